"""Workers killed or restarted under load: every test ends, exactly once, never stuck running."""

from __future__ import annotations

import signal
import time

import pytest

from integrations import services
from integrations.models import ConnectionTest
from tests.conftest import wait_for_test
from tests.faults.conftest import config, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Long enough that only the heartbeats can end the killed worker's test.
LONG = {"CONNECTION_TEST_DEADLINE": "240", "AWS_READ_TIMEOUT": "300"}  # only heartbeats end it
# The bound: a final state within 30 s of the worker's death.
WITHIN = 30


def _slow_test_running_on(worker_started, sandbox):
    sandbox.state.set_config(invoke_delay_ms=120_000)
    test = services.start_test(config(), None)
    wait_until(
        lambda: ConnectionTest.objects.filter(pk=test.pk, status="invoking").exists(),
        15,
        "the worker is invoking the model",
    )
    return test


def test_a_killed_workers_test_is_ended_by_another_worker_within_30_s(
    sandbox, start_worker, settings
):
    settings.CONNECTION_TEST_DEADLINE = 240
    doomed = start_worker(**LONG)
    test = _slow_test_running_on(doomed, sandbox)
    running = ConnectionTest.objects.get(pk=test.pk)
    assert running.worker.endswith(f":{doomed.proc.pid}") and running.heartbeat is not None
    start_worker(**LONG)  # alive, idle: nobody reads the test's page
    doomed.stop(signal.SIGKILL)
    killed_at = time.monotonic()

    ended = wait_until(
        lambda: ConnectionTest.objects.filter(
            pk=test.pk, status__in=["failed", "succeeded"]
        ).first(),
        WITHIN,
        "the killed worker's test ended",
    )
    took = time.monotonic() - killed_at
    assert (ended.status, ended.failed_step, ended.error_code) == ("failed", "worker", "WorkerLost")
    assert ended.error_message.startswith("The worker stopped"), ended.error_message
    assert ended.attempts == 1
    assert took < WITHIN
    # Nothing runs it again: the model was called once, by the worker that died.
    sandbox.state.set_config(invoke_delay_ms=0)
    assert wait_for_test(services.start_test(config(), None).pk, 20).succeeded
    assert ConnectionTest.objects.get(pk=test.pk).attempts == 1


def test_with_no_worker_left_the_status_page_ends_the_test(
    alice_client, sandbox, start_worker, settings
):
    settings.CONNECTION_TEST_DEADLINE = 240
    worker = start_worker(**LONG)
    test = _slow_test_running_on(worker, sandbox)
    worker.stop(signal.SIGKILL)
    killed_at = time.monotonic()

    # The status page (refreshed, as without JavaScript) ends the test once its heartbeat has
    # stopped; the live stream asks the same question every few seconds.
    status = "invoking"
    while status not in ConnectionTest.TERMINAL:
        assert time.monotonic() - killed_at < WITHIN, "still running"
        alice_client.get(f"/integrations/tests/{test.pk}/")
        status = ConnectionTest.objects.get(pk=test.pk).status
        time.sleep(0.2)
    ended = ConnectionTest.objects.get(pk=test.pk)
    assert (ended.status, ended.error_code) == ("failed", "WorkerLost")
    page = alice_client.get(f"/integrations/tests/{test.pk}/")
    assert "The worker stopped" in page.text

    # A worker that starts later and gets the message again does not run the ended test.
    sandbox.state.set_config(invoke_delay_ms=0)
    start_worker()
    fresh = wait_for_test(services.start_test(config(), None).pk, 20)
    assert fresh.status == "succeeded"
    assert ConnectionTest.objects.get(pk=test.pk).status == "failed"
    assert ConnectionTest.objects.get(pk=test.pk).attempts == 1


def test_500_tests_queued_while_the_worker_restarts_twice_each_end_exactly_once(
    sandbox, start_worker
):
    sandbox.state.set_config(invoke_delay_ms=300)
    cfg = config()
    services.start_test(cfg, None)  # warm the connection and the credentials cache
    tests = [services.start_test(cfg, None) for _ in range(499)]
    pks = [t.pk for t in tests]
    for _ in range(2):
        worker = start_worker(concurrency=48)
        wait_until(
            lambda: ConnectionTest.objects.filter(status="succeeded").count() >= 60,
            30,
            "the worker made progress",
        )
        worker.stop(signal.SIGTERM)  # a restart: warm shutdown, unfinished messages go back
    start_worker(concurrency=48)
    wait_until(
        lambda: not ConnectionTest.objects.exclude(status__in=ConnectionTest.TERMINAL).exists(),
        90,
        "every test ended",
    )
    rows = ConnectionTest.objects.filter(pk__in=pks)
    assert rows.count() == 499
    assert set(rows.values_list("status", flat=True)) == {"succeeded"}
    assert set(rows.values_list("attempts", flat=True)) == {1}
    # None ran twice: the model was invoked once per test.
    assert sandbox.state.stats()["invoke_calls"] == 500
