"""Prometheus metrics: counted by the process that made each call, read by /metrics.

Under gunicorn (several processes) and beside the Celery worker, set PROMETHEUS_MULTIPROC_DIR
to one empty folder that every process of the host shares (emptied before they start):
prometheus_client then keeps each process's counts in files there and /metrics adds them up.
Without it, /metrics shows the counts of the web process that answers only.

Queue depth, tests waiting and running, and the workers' last heartbeats are read at each
scrape (from Redis and the database), so they are true whichever process answers.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.db.models import Count, Max
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bedrock.observe import CallContext, CallOutcome

CALLS = Counter(
    "console_model_calls",
    "Model calls, by kind, integration, prompt and outcome.",
    ["kind", "integration", "prompt", "outcome"],
)
ERRORS = Counter(
    "console_model_errors", "Failed model calls, by kind and error code.", ["kind", "code"]
)
LATENCY = Histogram(
    "console_model_call_duration_seconds",
    "Time a model call took, from first step to answer.",
    ["kind", "integration"],
    buckets=(0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30),
)
TOKENS = Counter(
    "console_model_tokens",
    "Tokens used, by integration, prompt and direction (input, output).",
    ["integration", "prompt", "direction"],
)
COST = Counter(
    "console_model_cost_usd",
    "Estimated cost in US dollars, by integration and prompt.",
    ["integration", "prompt"],
)


def _id(value: int | None) -> str:
    return str(value) if value else ""


# Each metric's child per label values, as prometheus_client keeps them (its labels() takes a
# lock and checks the values on every call: about 5 microseconds, five times per model call).
_children: dict[tuple[Any, ...], Any] = {}


def _child(metric: Any, *values: str) -> Any:
    key = (id(metric), *values)
    child = _children.get(key)
    if child is None:
        if len(_children) > 100_000:
            _children.clear()
        child = _children[key] = metric.labels(*values)
    return child


def observe(context: CallContext, outcome: CallOutcome, cost_nano: int | None) -> None:
    integration, prompt = _id(context.integration_id), _id(context.prompt_id)
    _child(CALLS, context.kind, integration, prompt, "ok" if outcome.ok else "error").inc()
    if not outcome.ok:
        _child(ERRORS, context.kind, outcome.error_code or "unknown").inc()
    if outcome.total_ms is not None:
        _child(LATENCY, context.kind, integration).observe(max(0.0, outcome.total_ms) / 1000)
    if outcome.input_tokens:
        _child(TOKENS, integration, prompt, "input").inc(outcome.input_tokens)
    if outcome.output_tokens:
        _child(TOKENS, integration, prompt, "output").inc(outcome.output_tokens)
    if cost_nano:
        _child(COST, integration, prompt).inc(cost_nano / 1e9)


class OperationsCollector(Collector):
    """Read at each scrape: the task queue, tests waiting and running, worker heartbeats."""

    def collect(self) -> Any:
        from integrations.models import ConnectionTest
        from prompts_library.models import PromptTest

        tests = GaugeMetricFamily(
            "console_tests",
            "Tests by kind and status (queued, running).",
            labels=["kind", "status"],
        )
        beats = GaugeMetricFamily(
            "console_worker_last_heartbeat_timestamp_seconds",
            "When each worker last beat for a test it runs (Unix time).",
            labels=["worker"],
        )
        last: dict[str, float] = {}
        for kind, model in (("connection", ConnectionTest), ("prompt", PromptTest)):
            counts = dict(
                model.objects.filter(status__in=("queued", "running"))
                .values_list("status")
                .annotate(n=Count("pk"))
                .values_list("status", "n")
            )
            for status in ("queued", "running"):
                tests.add_metric([kind, status], counts.get(status, 0))
            rows = (
                model.objects.filter(status="running")
                .exclude(worker="")
                .values("worker")
                .annotate(at=Max("heartbeat"))
                .values_list("worker", "at")
            )
            for worker, at in rows:
                if at is not None:
                    last[worker] = max(last.get(worker, 0.0), at.timestamp())
        for worker, at in sorted(last.items()):
            beats.add_metric([worker], at)
        yield tests
        yield beats
        depth = _queue_depth()
        if depth is not None:
            queue = GaugeMetricFamily(
                "console_queue_length", "Messages waiting in the task queue.", labels=["queue"]
            )
            queue.add_metric([settings.CELERY_TASK_DEFAULT_QUEUE], depth)
            yield queue


def _queue_depth() -> int | None:
    if not settings.REDIS_URL:
        return None
    from config.cache import UNREACHABLE
    from config.celery import app

    try:
        with app.connection_for_read() as conn:
            client: Any = conn.default_channel.client  # type: ignore[attr-defined]
            return int(client.llen(settings.CELERY_TASK_DEFAULT_QUEUE))
    except UNREACHABLE:
        return None
    except Exception:  # a broker that is not Redis lists no length here
        return None


def exposition() -> tuple[bytes, str]:
    """The metrics in the Prometheus text format, and their content type."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
        _ensure_operations(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    registry.register(OperationsCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


_registered = False


def _ensure_operations(registry: CollectorRegistry) -> None:
    global _registered
    if not _registered:
        registry.register(OperationsCollector())
        _registered = True
