"""The call journal: records pushed to Redis on the call's path reach PostgreSQL in batches,
each exactly once, with their rollups."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from config.cache import redis_client
from tests.integrations.fixtures import make_integration
from tests.usage.helpers import report
from usage import journal
from usage.models import CallRecord, DailyRollup, HourlyRollup

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or redis_client() is None,
        reason="the journal is PostgreSQL's, through Redis",
    ),
]


@pytest.fixture
def held(settings):
    """The drain lock taken by the test, so that no drain runs until it lets go."""
    client = redis_client()
    assert client.set(journal.lock_key(), "test", nx=True, px=60_000)
    yield client
    client.delete(journal.lock_key())


def _calls(integration, n: int) -> None:
    for i in range(n):
        report(
            integration_id=integration.pk,
            ok=i % 4 != 0,
            error_code="" if i % 4 else "ThrottlingException",
            total_ms=i * 30,
            input_tokens=i,
            output_tokens=3 * i,
        )


def test_records_wait_in_redis_and_reach_the_database_once_with_their_rollups(held):
    integration = make_integration()
    _calls(integration, 25)
    # Nothing was written by the calls themselves: they are in the journal.
    assert journal.pending() == 25
    assert CallRecord.objects.count() == 0

    held.delete(journal.lock_key())
    assert journal.settle(5)
    records = CallRecord.objects.all()
    assert records.count() == 25 and not records.filter(journal_id=None).exists()
    assert records.filter(ok=False).count() == 7
    hourly, daily = HourlyRollup.objects.get(), DailyRollup.objects.get()
    for rollup in (hourly, daily):
        assert rollup.calls == 25 and rollup.errors == 7
        assert rollup.input_tokens == sum(range(25))
        assert rollup.output_tokens == 3 * sum(range(25))
        assert rollup.cost_nano == records.aggregate(s=Sum("cost_nano"))["s"]
        assert rollup.latency_sum_ms == sum(i * 30 for i in range(25))
        # Each call in its latency bucket: 0, 30, ... 720 ms.
        assert sum(getattr(rollup, f"lat{b}") for b in range(16)) == 25
    assert hourly.lat0 == 1 and hourly.lat1 == 1 and hourly.lat6 == 8  # 0; 30; 510..720 ms
    assert journal.pending() == 0


def test_a_drain_repeated_after_it_committed_adds_nothing_twice(held):
    integration = make_integration()
    _calls(integration, 10)
    entries = held.lrange(journal.journal_key(), 0, -1)
    # A drain that committed these and stopped before trimming the list:
    assert journal._commit(entries) == 10
    held.delete(journal.lock_key())
    assert journal.settle(5)
    assert CallRecord.objects.count() == 10
    assert HourlyRollup.objects.get().calls == DailyRollup.objects.get().calls == 10
    # And new calls after it count once more each.
    _calls(integration, 3)
    assert journal.settle(5)
    assert CallRecord.objects.count() == 13 and HourlyRollup.objects.get().calls == 13


def test_a_refused_entry_is_set_aside_and_the_others_are_recorded(held, caplog):
    integration = make_integration()
    _calls(integration, 2)
    held.rpush(journal.journal_key(), json.dumps([uuid.uuid4().hex, "not a time"]))
    _calls(integration, 2)
    held.delete(journal.lock_key())
    assert journal.settle(5)
    assert CallRecord.objects.count() == 4 and HourlyRollup.objects.get().calls == 4
    assert held.llen(journal.rejected_key()) == 1
    assert "set aside" in caplog.text


def test_the_process_that_pushed_drains_by_itself():
    integration = make_integration()
    _calls(integration, 5)
    # No reader settles here: the pushing process's own drain thread moves them.
    done = threading.Event()
    for _ in range(100):
        if CallRecord.objects.count() == 5:
            done.set()
            break
        done.wait(0.05)
    assert done.is_set(), f"{CallRecord.objects.count()} of 5 records after 5 s"
    assert journal.pending() == 0


def test_inside_a_transaction_a_record_is_written_with_it_not_journaled():
    integration = make_integration()
    with transaction.atomic():
        _calls(integration, 2)
        assert CallRecord.objects.count() == 2
    assert journal.pending() == 0
    assert not CallRecord.objects.exclude(journal_id=None).exists()


def test_durable_records_skip_the_journal(settings):
    settings.USAGE_DURABLE_RECORDS = True
    _calls(make_integration(), 2)
    assert journal.pending() == 0 and CallRecord.objects.count() == 2


def test_a_drain_commit_waits_for_the_disk(held):
    # Entries leave Redis only after their commit; the commit must then be durable.
    _calls(make_integration(), 1)
    statements = []

    def watch(execute, sql, params, many, context):
        if sql.startswith("SET LOCAL synchronous_commit"):
            statements.append(sql)
        return execute(sql, params, many, context)

    held.delete(journal.lock_key())
    with connection.execute_wrapper(watch):
        assert journal.drain() == 1
    assert statements == []
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


def test_usage_pages_read_after_settling(alice_client, held):
    _calls(make_integration(), 3)
    held.delete(journal.lock_key())
    page = alice_client.get("/usage/calls/")
    assert page.status_code == 200
    assert journal.pending() == 0 and CallRecord.objects.count() == 3
    for pk in CallRecord.objects.values_list("pk", flat=True):
        assert f"/usage/calls/{pk}/" in page.content.decode()
