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

DEADLINE = 3  # CONNECTION_TEST_DEADLINE of the killed worker and of the web process


def test_a_test_whose_worker_is_killed_ends_with_a_clear_reason(
    alice_client, sandbox, start_worker, settings
):
    settings.CONNECTION_TEST_DEADLINE = DEADLINE
    sandbox.state.set_config(invoke_delay_ms=30_000)
    worker = start_worker(CONNECTION_TEST_DEADLINE=str(DEADLINE))
    test = services.start_test(config(), None)
    wait_until(
        lambda: ConnectionTest.objects.filter(pk=test.pk, status="invoking").exists(),
        15,
        "the worker is invoking the model",
    )
    worker.stop(signal.SIGKILL)
    killed_at = time.monotonic()

    # The page the browser long-polls ends the test once it has been running past the deadline.
    status = "invoking"
    while status not in ConnectionTest.TERMINAL:
        assert time.monotonic() - killed_at < DEADLINE + 20, "still running"
        alice_client.get(f"/integrations/tests/{test.pk}/?after={status}")
        status = ConnectionTest.objects.get(pk=test.pk).status
    ended = ConnectionTest.objects.get(pk=test.pk)
    assert (ended.status, ended.failed_step, ended.error_code) == ("failed", "worker", "WorkerLost")
    assert "killed" in ended.error_message
    page = alice_client.get(f"/integrations/tests/{test.pk}/")
    assert "WorkerLost" in page.text or "The worker stopped" in page.text

    # A worker that starts later and gets the message again does not run the ended test.
    sandbox.state.set_config(invoke_delay_ms=0)
    start_worker()
    fresh = wait_for_test(services.start_test(config(), None).pk, 20)
    assert fresh.status == "succeeded"
    assert ConnectionTest.objects.get(pk=test.pk).status == "failed"


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
