"""Fault tests: the real web views, the real worker process, the sandbox playing a broken AWS.

Each module starts the workers it needs. The session's shared worker reads the same queue, so
it is paused while this package runs and started again afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bedrock import families
from integrations.models import Configuration
from sandbox import DEMO_EXTERNAL_ID, DEMO_MODEL_ID, DEMO_ROLE_ARN
from tests.conftest import SANDBOX_URL, Worker

# An origin nothing listens on (port 1): connections are refused at once.
DEAD_ORIGIN = "http://127.0.0.1:1"

# Short limits for the fault workers, so that every failure shows within seconds.
FAULT_ENV = {
    "AWS_CONNECT_TIMEOUT": "1",
    "AWS_READ_TIMEOUT": "2",
    "AWS_MAX_ATTEMPTS": "3",
    # Each failure must end by its own timeout, named at its step, well before this deadline
    # (a lost worker's tests end by their heartbeats, not by the deadline).
    "CONNECTION_TEST_DEADLINE": "60",
    "EXTRA_AWS_ENDPOINTS": f"{SANDBOX_URL},{DEAD_ORIGIN}",
}


@pytest.fixture(scope="package", autouse=True)
def _shared_worker_paused(request):
    """Stop the session's worker (if it runs) so that only this package's workers take tasks."""
    shared = None
    defs = request._fixturemanager.getfixturedefs("celery_worker", request.node) or ()
    for fixturedef in defs:
        cached = getattr(fixturedef, "cached_result", None)
        if cached is not None and isinstance(cached[0], Worker):
            shared = cached[0]
    if shared is not None:
        shared.stop()
    yield
    if shared is not None:
        shared.start()


@pytest.fixture
def start_worker(worker_env, tmp_path_factory) -> Callable[..., Worker]:
    """Start workers with FAULT_ENV (plus overrides); all are stopped after the test."""
    started: list[Worker] = []

    def start(concurrency: int = 16, **env: str) -> Worker:
        log: Path = tmp_path_factory.mktemp("fault-worker") / "worker.log"
        worker = Worker(log, {**worker_env, **FAULT_ENV, **env}, concurrency).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def config(**overrides) -> Configuration:
    values = {
        "role_arn": DEMO_ROLE_ARN,
        "sts_endpoint": SANDBOX_URL,
        "external_id": DEMO_EXTERNAL_ID,
        "model_id": DEMO_MODEL_ID,
        "endpoint": SANDBOX_URL,
        "headers": (),
        "request_json": families.default_request_json(families.FAMILIES["anthropic"]),
    }
    values.update(overrides)
    return Configuration(**values)


def wait_until(predicate: Callable[[], object], timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")
