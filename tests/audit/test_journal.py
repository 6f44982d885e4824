"""The audit journal: each API token use is pushed to Redis on the call's path and chained
from there in batches, each exactly once, with every field, the chain intact."""

from __future__ import annotations

import json
import time

import pytest
from django.db import connection

from audit import journal, recorder, verify
from audit.models import AuditEvent, PendingEvent
from config.cache import redis_client
from prompts_library.models import ApiToken
from tests.prompts.fixtures import make_prompt
from tests.prompts.test_api_cache import invoke

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or redis_client() is None,
        reason="the journal is PostgreSQL's, through Redis",
    ),
]
USED = AuditEvent.Action.TOKEN_USED


@pytest.fixture
def held():
    """The drain lock taken by the test, so that no drain runs until it lets go."""
    client = redis_client()
    assert client.set(journal.journal.lock_key(), "test", nx=True, px=60_000)
    yield client
    client.delete(journal.journal.lock_key())


def _uses(n: int, start: int = 0) -> None:
    context = recorder.Context(ip="2001:db8::7", user_agent="feature/1.0 \u00e9\u2603")
    token = recorder.set_context(context)
    try:
        for i in range(start, start + n):
            recorder.record_pending(
                USED,
                object_type="prompts_library.apitoken",
                object_id=i,
                object_repr=f"API token #{i}",
                changes={"method": "POST", "path": f"/api/v1/prompts/caf\u00e9-{i}/invoke"},
            )
    finally:
        recorder.reset_context(token)


def _intact() -> None:
    outcome = verify.verify_chain()
    assert (outcome.broken, outcome.why) == (None, "")


def test_uses_wait_in_redis_and_join_the_chain_in_order_with_every_field(held):
    _uses(5)
    # Nothing was written by the calls themselves: they are in the journal.
    assert journal.journal.pending() == 5
    assert not PendingEvent.objects.exists()
    assert not AuditEvent.objects.filter(action=USED).exists()

    held.delete(journal.journal.lock_key())
    recorder.chain_pending()  # as every reader of the trail does: the journal first
    used = list(AuditEvent.objects.filter(action=USED).order_by("id"))
    assert [e.object_id for e in used] == ["0", "1", "2", "3", "4"]
    first = used[0]
    assert (first.ip, first.user_agent) == ("2001:db8::7", "feature/1.0 \u00e9\u2603")
    assert (first.object_type, first.object_repr) == ("prompts_library.apitoken", "API token #0")
    assert first.changes == {"method": "POST", "path": "/api/v1/prompts/caf\u00e9-0/invoke"}
    assert abs(time.time() - first.created.timestamp()) < 60
    assert all(e.journal_id is not None for e in used)
    assert journal.journal.pending() == 0
    _intact()


def test_a_drain_repeated_after_it_committed_chains_nothing_twice(held):
    _uses(4)
    entries = held.lrange(journal.journal.journal_key(), 0, -1)
    # A drain that committed these and stopped before trimming the list:
    assert journal._commit(entries) == 4
    _uses(2, start=4)  # and two more uses after it
    held.delete(journal.journal.lock_key())
    assert journal.journal.settle(5)
    assert AuditEvent.objects.filter(action=USED).count() == 6
    used = AuditEvent.objects.filter(action=USED).values_list("object_id", flat=True)
    assert sorted(used) == list("012345")
    _intact()


def test_a_refused_entry_is_set_aside_and_the_others_are_chained(held, caplog):
    _uses(2)
    held.rpush(journal.journal.journal_key(), json.dumps(["not an id", "not a time"]))
    _uses(2, start=2)
    held.delete(journal.journal.lock_key())
    assert journal.journal.settle(5)
    assert AuditEvent.objects.filter(action=USED).count() == 4
    assert held.llen(journal.journal.rejected_key()) == 1
    assert "set aside" in caplog.text
    _intact()


def test_the_pushing_process_chains_by_itself(settings):
    settings.AUDIT_CHAIN_INTERVAL = 0.05
    _uses(3)
    deadline = time.monotonic() + 10
    while AuditEvent.objects.filter(action=USED).count() < 3:
        assert time.monotonic() < deadline, "the drainer did not chain the uses"
        time.sleep(0.02)
    _intact()


def test_an_api_call_s_use_goes_through_the_journal(client, sandbox, alice, held):
    prompt = make_prompt(alice)
    token = ApiToken.issue("backend", all_prompts=True)[1]
    assert invoke(client, prompt.slug, token).status_code == 200
    assert journal.journal.pending() == 1 and not PendingEvent.objects.exists()
    held.delete(journal.journal.lock_key())
    recorder.chain_pending()
    used = AuditEvent.objects.get(action=USED)
    assert used.changes["path"] == f"/api/v1/prompts/{prompt.slug}/invoke"
    _intact()


def test_with_redis_unreachable_a_use_is_written_pending(settings, redis_down):
    settings.AUDIT_CHAIN_INTERVAL = 3600
    recorder._last_chained = time.monotonic()
    redis_down()
    _uses(1)
    assert PendingEvent.objects.count() == 1
    assert recorder.chain_pending() == 1
    _intact()


def test_the_journal_is_off_when_asked(settings):
    settings.AUDIT_JOURNAL = False
    settings.AUDIT_CHAIN_INTERVAL = 3600
    recorder._last_chained = time.monotonic()
    _uses(1)
    assert PendingEvent.objects.count() == 1 and journal.journal.pending() == 0


def test_an_entry_keeps_the_time_to_the_microsecond_and_text_that_reads_like_a_nul(held):
    from datetime import UTC, datetime

    created = datetime(2026, 12, 1, 4, 5, 6, 123456, tzinfo=UTC)
    fields = {
        "created": created,
        "actor_repr": "",
        "ip": None,
        "user_agent": "agent\x00/1",
        "action": USED,
        "object_type": "prompts_library.apitoken",
        "object_id": "7",
        "object_repr": "API token #7",
        "changes": {"path": "/api/v1/prompts/a\\u0000b/invoke"},
    }
    held.rpush(journal.journal.journal_key(), journal.entry(fields))
    held.delete(journal.journal.lock_key())
    assert journal.journal.settle(5)
    event = AuditEvent.objects.get(action=USED)
    assert event.created == created
    assert event.user_agent == "agent/1"  # PostgreSQL's text holds no NUL: dropped
    assert event.changes == {"path": "/api/v1/prompts/a\\u0000b/invoke"}  # text, kept as is
    _intact()
