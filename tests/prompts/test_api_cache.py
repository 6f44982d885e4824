"""The Invoke API's hot path: cached tokens and prompts, and token uses chained in batches."""

import json
import time

import pytest
from django.core.management import call_command
from django.db import connection

from audit import recorder, verify
from audit.models import AuditEvent, PendingEvent
from prompts_library import apicache, services
from prompts_library.models import ApiToken, Prompt
from tests.prompts.fixtures import content, make_prompt


def invoke(client, ref, token, body=None):
    return client.post(
        f"/api/v1/prompts/{ref}/invoke",
        json.dumps(body if body is not None else {"question": "q", "max_tokens": 5}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.fixture
def prompt(alice):
    return make_prompt(alice)


@pytest.mark.django_db
class TestCache:
    def test_a_revoked_token_stops_at_once_even_when_cached(
        self, client, sandbox, prompt, alice_client
    ):
        row, token = ApiToken.issue("backend", all_prompts=True)
        assert invoke(client, prompt.slug, token).status_code == 200  # now cached
        alice_client.post(f"/prompts/tokens/{row.pk}/revoke/")
        assert invoke(client, prompt.slug, token).status_code == 401

    def test_a_publish_is_served_at_once_even_when_cached(self, client, sandbox, prompt, alice):
        token = ApiToken.issue("backend", all_prompts=True)[1]
        assert invoke(client, prompt.slug, token).json()["prompt_version"] == 1
        v2 = services.save_version(prompt, content(), alice)
        services.publish(prompt, v2)
        assert invoke(client, prompt.slug, token).json()["prompt_version"] == 2

    def test_a_token_revoked_in_the_admin_is_refused_at_once(
        self, client, sandbox, prompt, alice_client
    ):
        row, token = ApiToken.issue("backend", all_prompts=True)
        assert invoke(client, prompt.slug, token).status_code == 200
        r = alice_client.post(
            "/admin/prompts_library/apitoken/",
            {"action": "revoke", "_selected_action": [row.pk]},
        )
        assert r.status_code == 302
        assert invoke(client, prompt.slug, token).status_code == 401

    def test_another_process_change_applies_at_the_next_call(self, client, sandbox, prompt):
        row, token = ApiToken.issue("backend", all_prompts=True)
        other = ApiToken.issue("other", all_prompts=True)[1]
        assert invoke(client, prompt.slug, token).status_code == 200
        assert invoke(client, prompt.slug, other).status_code == 200
        # As another process does: change the rows, then bump the shared version on commit.
        # Nothing of this reaches this process's memory.
        ApiToken.objects.filter(pk=row.pk).update(revoked_at=row.created)
        Prompt.objects.filter(pk=prompt.pk).update(published_version=None)
        apicache.version._write()
        assert invoke(client, prompt.slug, token).status_code == 401
        assert invoke(client, prompt.slug, other).status_code == 409

    def test_a_change_nobody_announced_is_seen_within_the_ttl(
        self, client, sandbox, prompt, settings
    ):
        # Long enough that the second call lands within it on a loaded machine.
        settings.API_CACHE_SECONDS = 2
        row, token = ApiToken.issue("backend", all_prompts=True)
        assert invoke(client, prompt.slug, token).status_code == 200
        ApiToken.objects.filter(pk=row.pk).update(revoked_at=row.created)
        assert invoke(client, prompt.slug, token).status_code == 200  # cached, as documented
        time.sleep(2.1)
        assert invoke(client, prompt.slug, token).status_code == 401

    def test_nothing_is_kept_while_the_shared_cache_is_unreachable(
        self, client, sandbox, prompt, redis_down
    ):
        row, token = ApiToken.issue("backend", all_prompts=True)
        assert invoke(client, prompt.slug, token).status_code == 200
        redis_down()
        ApiToken.objects.filter(pk=row.pk).update(revoked_at=row.created)
        assert invoke(client, prompt.slug, token).status_code == 401  # read from the database

    def test_last_used_is_written_at_most_once_a_minute(
        self, client, sandbox, prompt, django_assert_max_num_queries, settings
    ):
        # Pending token uses are chained every AUDIT_CHAIN_INTERVAL: not during this count.
        settings.AUDIT_CHAIN_INTERVAL = 3600
        token = ApiToken.issue("backend", all_prompts=True)[1]
        invoke(client, prompt.slug, token)
        first = ApiToken.objects.get().last_used_at
        assert first is not None
        # The token-use event and the call's usage record (one statement on PostgreSQL; on
        # SQLite two, in a savepoint); nothing looked up.
        record = 1 if connection.vendor == "postgresql" else 4
        with django_assert_max_num_queries(1 + record):
            assert invoke(client, prompt.slug, token).status_code == 200
        assert ApiToken.objects.get().last_used_at == first


@pytest.mark.django_db
class TestTokenUsesOnRecord:
    def test_each_use_is_committed_at_once_and_chained_in_order(
        self, client, sandbox, prompt, alice
    ):
        token = ApiToken.issue("backend", all_prompts=True)[1]
        for _ in range(5):
            assert invoke(client, prompt.slug, token).status_code == 200
        assert PendingEvent.objects.filter(action=AuditEvent.Action.TOKEN_USED).count() == 5
        # Another change recorded in between, under the chain's lock as usual.
        services.publish(prompt, services.save_version(prompt, content(), alice))
        assert invoke(client, prompt.slug, token).status_code == 200
        outcome = verify.verify_chain()  # chains the pending events first
        checked = outcome.checked
        assert (outcome.broken, outcome.why) == (None, "")
        assert not PendingEvent.objects.exists()
        used = AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_USED).order_by("id")
        assert used.count() == 6 and checked == AuditEvent.objects.count()
        assert all(e.changes["path"].endswith("/invoke") for e in used)
        call_command("verify_audit_chain")

    def test_the_admin_shows_pending_uses(self, client, sandbox, prompt, alice_client):
        token = ApiToken.issue("backend", all_prompts=True)[1]
        invoke(client, prompt.slug, token)
        page = alice_client.get("/admin/audit/auditevent/?action=token_used")
        assert page.status_code == 200 and "API token #" in page.text
        assert not PendingEvent.objects.exists()

    def test_requests_outside_a_transaction_chain_in_batches(self, settings):
        settings.AUDIT_CHAIN_INTERVAL = 3600
        recorder._last_chained = time.monotonic()
        for i in range(3):
            recorder.record_pending(AuditEvent.Action.TOKEN_USED, object_id=i)
        assert PendingEvent.objects.count() == 3  # not chained yet: one lock per interval
        assert recorder.chain_pending() == 3
        outcome = verify.verify_chain()
        assert (outcome.broken, outcome.why) == (None, "")


@pytest.mark.django_db(transaction=True)
def test_the_hot_path_chains_without_the_caller(settings):
    settings.AUDIT_JOURNAL = False  # the pending path (tests/audit/test_journal.py: the journal)
    settings.AUDIT_CHAIN_INTERVAL = 0
    recorder.record_pending(AuditEvent.Action.TOKEN_USED, object_id=1)
    assert not PendingEvent.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_USED).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("durable", [False, True])
def test_a_use_outside_a_transaction_is_on_record_with_every_field(settings, durable):
    settings.AUDIT_CHAIN_INTERVAL = 3600  # stays pending, as between two chainings
    settings.AUDIT_DURABLE_TOKEN_USE = durable
    settings.AUDIT_JOURNAL = False  # the pending path (tests/audit/test_journal.py: the journal)
    recorder._last_chained = time.monotonic()
    context = recorder.Context(ip="2001:db8::7", user_agent="feature/1.0 \u00e9\u2603")
    token = recorder.set_context(context)
    try:
        recorder.record_pending(
            AuditEvent.Action.TOKEN_USED,
            object_type="prompts_library.apitoken",
            object_id=42,
            object_repr="API token #42",
            changes={"method": "POST", "path": "/api/prompts/caf\u00e9%00'; --/invoke"},
        )
    finally:
        recorder.reset_context(token)
    event = PendingEvent.objects.get()
    assert (event.ip, event.user_agent) == ("2001:db8::7", "feature/1.0 \u00e9\u2603")
    assert (event.object_type, event.object_id, event.object_repr) == (
        "prompts_library.apitoken",
        "42",
        "API token #42",
    )
    assert event.changes == {"method": "POST", "path": "/api/prompts/caf\u00e9%00'; --/invoke"}
    assert abs(time.time() - event.created.timestamp()) < 60
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # the asynchronous commit was for that write only
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"
    assert recorder.chain_pending() == 1
    assert (verify.verify_chain().broken, verify.verify_chain().why) == (None, "")


def test_an_expired_entry_is_read_again_by_one_thread_while_the_others_wait(monkeypatch):
    import threading

    reads = []

    def slow_lookup(ref):
        reads.append(ref)
        time.sleep(0.2)  # the others arrive while this one reads
        return f"prompt {ref}"

    monkeypatch.setattr(apicache, "_lookup", slow_lookup)
    apicache.clear()
    read_under = apicache.sync()
    got = []
    threads = [
        threading.Thread(target=lambda: got.append(apicache.prompt("summary", read_under)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["prompt summary"] * 8
    assert reads == ["summary"]  # one read; the seven others were served what it read
    apicache.clear()
