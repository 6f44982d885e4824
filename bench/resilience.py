"""Several processes as one: how fast a lost worker's test ends, and how fast a change made in one
web process applies in another.

Parts (`./console bench --only worker-loss,propagation`); each starts the processes it needs:
- worker-loss: a worker is SIGKILLed while it runs a slow test, another worker is alive and
  idle, nobody reads the test's page. Time from the kill to the test's final state, 10 kills.
- propagation: two web processes (separate gunicorns). A token is used on both (so both cache
  it), revoked through web A's console page, and web B's Invoke API is called until it refuses:
  time from the revocation's answer to the refusal. Also the cost of the per-call version check.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.runs import (
    ROOT,
    Sandbox,
    Web,
    _free_port,
    gunicorn_command,
    make_integration,
    pct,
    wait_port,
)

PARTS = ("worker-loss", "propagation")


def _worker(env: dict[str, str], log: Path, queue: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "-Q",
            queue,
            "--concurrency",
            "4",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"{uuid.uuid4().hex[:8]}@%h",
        ],
        cwd=ROOT,
        env={**env, "CELERY_QUEUE": queue},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    start = log.stat().st_size if log.exists() else 0
    deadline = time.monotonic() + 60
    while " ready." not in log.read_bytes()[start:].decode(errors="replace"):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("worker did not start: " + log.read_text()[-2000:])
        time.sleep(0.1)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "p95": pct(values, 95),
        "max": max(values),
        "n": len(values),
    }


def bench_worker_loss(env: dict[str, str], var_dir: Path, sandbox: Sandbox, kills: int) -> dict:
    from django.conf import settings

    from integrations import services
    from integrations.models import ConnectionTest

    queue = f"bench-loss-{uuid.uuid4().hex[:6]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    from config.celery import app

    app.conf.task_default_queue = queue
    _, config = make_integration(env["EXTRA_AWS_ENDPOINTS"], "Loss")
    log = var_dir / "loss-workers.log"
    # Another worker, alive and idle (it reads another queue): its heartbeat thread ends the
    # tests whose worker stopped.
    reaper = _worker(env, log, f"{queue}-idle")
    times: list[float] = []
    outcomes: dict[str, int] = {}
    try:
        for _ in range(kills):
            sandbox.delay(60_000)
            doomed = _worker(env, log, queue)
            test = services.start_test(config, None)
            deadline = time.monotonic() + 30
            while not ConnectionTest.objects.filter(pk=test.pk, status="invoking").exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("the test did not start")
                time.sleep(0.02)
            doomed.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            doomed.wait()
            while True:
                row = ConnectionTest.objects.only("status", "error_code").get(pk=test.pk)
                if row.status in ConnectionTest.TERMINAL:
                    break
                if time.monotonic() - killed > 120:
                    raise RuntimeError("the killed worker's test did not end within 120 s")
                time.sleep(0.05)
            times.append(time.monotonic() - killed)
            outcome = f"{row.status}:{row.error_code}"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            print(f"   kill {len(times)}: ended after {times[-1]:.1f} s ({outcome})", flush=True)
    finally:
        sandbox.delay(0)
        _stop(reaper)
    return {
        "seconds": _summary(times),
        "outcomes": outcomes,
        "lost_after": settings.TEST_LOST_AFTER_SECONDS,
        "heartbeat": settings.TEST_HEARTBEAT_SECONDS,
    }


def _gunicorn(var_dir: Path, name: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen(
        gunicorn_command(port, workers=1),
        cwd=ROOT,
        stdout=(var_dir / f"{name}.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    wait_port(port)
    return proc, port


def bench_propagation(var_dir: Path, session_id: str, prompt_slug: str, rounds: int) -> dict:
    from prompts_library import apicache
    from prompts_library.models import ApiToken

    web_a, port_a = _gunicorn(var_dir, "web-a")
    web_b, port_b = _gunicorn(var_dir, "web-b")
    refusals: list[float] = []
    try:
        console_a = Web(port_a, session_id)
        api_b = http.client.HTTPConnection("127.0.0.1", port_b, timeout=30)
        api_a = http.client.HTTPConnection("127.0.0.1", port_a, timeout=30)
        body = json.dumps({"question": "hi"}).encode()

        def call(conn: http.client.HTTPConnection, token: str) -> int:
            conn.request(
                "POST",
                f"/api/v1/prompts/{prompt_slug}/invoke",
                body,
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            r = conn.getresponse()
            r.read()
            return r.status

        for _ in range(rounds):
            row, token = ApiToken.issue("propagation", all_prompts=True)
            for conn in (api_a, api_b):
                for _ in range(3):  # cached in both processes
                    assert call(conn, token) == 200
            status, _ = console_a.request("POST", f"/prompts/tokens/{row.pk}/revoke/", b"")
            revoked = time.perf_counter()
            assert status in (200, 302), status
            while call(api_b, token) != 401:
                if time.perf_counter() - revoked > 10:
                    raise RuntimeError("web B still accepts the revoked token after 10 s")
            refusals.append((time.perf_counter() - revoked) * 1000)
            assert call(api_a, token) == 401
    finally:
        _stop(web_a)
        _stop(web_b)
    # The check every API call makes: one read of the shared version.
    apicache.version.current()
    checks = []
    for _ in range(5000):
        t = time.perf_counter()
        apicache.version.current()
        checks.append((time.perf_counter() - t) * 1_000_000)
    return {"refusal_ms": _summary(refusals), "version_check_us": _summary(checks)}


def run_all(env: dict[str, str], var_dir: Path, quick: bool, parts: tuple[str, ...]) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from prompts_library import services as prompts
    from prompts_library.models import Feature

    sandbox = Sandbox(env["EXTRA_AWS_ENDPOINTS"])
    results: dict[str, Any] = {}
    if "propagation" in parts:
        print("6. propagation between web processes", flush=True)
        user = get_user_model().objects.create_user(
            f"prop-{uuid.uuid4().hex[:6]}", is_staff=True, is_superuser=True
        )
        client = Client()
        client.force_login(user)
        integration, _ = make_integration(env["EXTRA_AWS_ENDPOINTS"], "Propagation")
        prompt = prompts.create_prompt(
            name=f"Propagation {uuid.uuid4().hex[:6]}",
            integration=integration,
            feature=Feature.objects.get_or_create(name="Bench")[0],
            content=prompts.VersionContent(
                request_template=(
                    '{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, '
                    '"messages": [{"role": "user", "content": "{{question}}"}]}'
                ),
                response_path="content[0].text",
                samples={"question": "hi"},
            ),
            author=None,
        )
        prompts.publish(prompt, prompt.versions.get())
        results["propagation"] = bench_propagation(
            var_dir, client.cookies["sessionid"].value, prompt.slug, 10 if quick else 30
        )
    if "worker-loss" in parts:
        print("7. a worker killed under a running test", flush=True)
        results["worker_loss"] = bench_worker_loss(
            {**os.environ, **env}, var_dir, sandbox, 3 if quick else 10
        )
    return results
