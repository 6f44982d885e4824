"""Fallbacks: what stepping around a throttled primary costs (`./console bench --only fallbacks`).

In this process, through integrations.fallbacks.serve (the function the Invoke API and chat
completions call), against the sandbox in its own process with a model time of
FALLBACK_BENCH_MODEL_MS (default 100 ms). Two integrations of the same family, on one role
(credentials cached for both, as in steady use):
- direct: the fallback called on its own (no chain): the reference;
- failed attempt: the throttled primary called on its own (no chain), as it fails when it has
  a fallback after it (not retried); also, for comparison, alone with its retries;
- throttled: the primary with the fallback as its chain, the primary throttled at every call
  and never cooling down (FALLBACK_FAILURES_BEFORE_COOLDOWN set out of reach): target, at most
  direct + one failed attempt;
- cooling down: the same chain with the primary in its cooldown: target, as direct (the
  cooldown's look-ups in the shared cache only).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from bench.runs import Sandbox, make_integration, pct

PARTS = ("fallbacks",)
PRIMARY_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
FALLBACK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"


def _summary(times: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(pct(times, 95), 2),
        "n": len(times),
    }


def _timed(n: int, call: Any) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def run_all(env: dict[str, str], var_dir: Any, quick: bool, parts: tuple[str, ...]) -> dict:
    from django.conf import settings

    from bedrock import client, invoke, observe
    from integrations import cooldown, fallbacks

    sandbox = Sandbox(env["AWS_ENDPOINT_URL_STS"])
    model_ms = int(os.environ.get("FALLBACK_BENCH_MODEL_MS", "100"))
    sandbox.call("POST", "reset")
    sandbox.delay(model_ms)
    n = 30 if quick else 200

    primary, _ = make_integration(env["AWS_ENDPOINT_URL_STS"], name="Primary")
    fallback, _ = make_integration(env["AWS_ENDPOINT_URL_STS"], name="Fallback")
    for integration, model_id in ((primary, PRIMARY_MODEL), (fallback, FALLBACK_MODEL)):
        integration.model_id = model_id
        integration.save(update_fields=["model_id"])
    body = primary.request_json.encode()

    def serve(integration: Any, chain: list[Any]) -> fallbacks.Served:
        return fallbacks.serve(
            integration,
            invoke.Request(body),
            invoke.Options(session_name="bench-fallbacks"),
            observe.CallContext(observe.INVOKE_API, integration.pk),
            chain,
        )

    def throttle_primary() -> None:
        sandbox.call("DELETE", "faults")
        sandbox.call(
            "PUT",
            "faults",
            {"target": "invoke", "mode": "throttle", "match": PRIMARY_MODEL, "times": 10**6},
        )

    client.reset_caches()
    cooldown.reset(primary.pk)
    cooldown.reset(fallback.pk)
    for _ in range(5):  # warm: credentials, connections
        serve(fallback, [])
        serve(primary, [])
    results: dict[str, Any] = {
        "load_before": os.getloadavg(),
        "model_ms": model_ms,
        "aws_max_attempts": settings.AWS_MAX_ATTEMPTS,
        "cache": "Redis" if settings.REDIS_URL else "file cache (embedded default)",
    }
    saved = settings.FALLBACK_FAILURES_BEFORE_COOLDOWN
    settings.FALLBACK_FAILURES_BEFORE_COOLDOWN = 10**9
    try:
        results["direct"] = _summary(_timed(n, lambda: serve(fallback, [])))
        throttle_primary()
        with client.throttling_not_retried():  # as a member with a next one is called
            results["failed_attempt"] = _summary(_timed(n, lambda: serve(primary, [])))
        # For comparison: the same call alone, retried with backoff (AWS_MAX_ATTEMPTS).
        results["failed_with_retries"] = _summary(_timed(n, lambda: serve(primary, [])))
        served = serve(primary, [fallback])
        if served.served_by != fallback:
            raise RuntimeError("the throttled primary was not served by its fallback")
        results["throttled"] = _summary(_timed(n, lambda: serve(primary, [fallback])))
    finally:
        settings.FALLBACK_FAILURES_BEFORE_COOLDOWN = saved
    cooldown.reset(primary.pk)
    for _ in range(saved):
        serve(primary, [fallback])
    if cooldown.state_of(primary.pk).cooling_until is None:
        raise RuntimeError("the primary did not cool down")
    calls_before = sandbox.stats()["invoke_calls"]
    results["cooling_down"] = _summary(_timed(n, lambda: serve(primary, [fallback])))
    results["calls_during_cooldown"] = sandbox.stats()["invoke_calls"] - calls_before
    results["direct_again"] = _summary(_timed(n, lambda: serve(fallback, [])))
    sandbox.call("DELETE", "faults")
    direct = (results["direct"]["median_ms"] + results["direct_again"]["median_ms"]) / 2
    results["throttled_extra_ms"] = round(results["throttled"]["median_ms"] - direct, 2)
    results["throttled_over_budget_ms"] = round(
        results["throttled_extra_ms"] - results["failed_attempt"]["median_ms"], 2
    )
    results["cooling_extra_ms"] = round(results["cooling_down"]["median_ms"] - direct, 2)
    results["load_after"] = os.getloadavg()
    return {"fallbacks": results}
