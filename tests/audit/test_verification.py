"""The chain's state in the open: shown on the audit list, re-checked on demand by an
Administrator (by the worker), and a broken chain an alert on console pages for Administrators."""

import time

import pytest
from django.conf import settings
from django.core.management import call_command

from audit import recorder, verify
from audit.models import AuditEvent, ChainState
from tests.audit.test_audit import save_with_secret
from tests.conftest import grant

URL = "/admin/audit/auditevent/"
A = AuditEvent.Action


def state_text(client) -> str:
    page = client.get(URL)
    assert page.status_code == 200
    text = page.text
    start = text.index('id="audit-chain-state"')
    return text[start : text.index("</section>", start)]


def tamper(event: AuditEvent) -> None:
    # As someone with database access would: the row changes, its hash does not.
    AuditEvent.objects.filter(pk=event.pk).update(object_repr="forged")


@pytest.mark.django_db
def test_the_list_shows_the_last_verification(alice_client):
    save_with_secret()
    assert "Not verified yet." in state_text(alice_client)
    verify.check()
    last = AuditEvent.objects.latest("id")
    text = state_text(alice_client)
    count = AuditEvent.objects.count()
    assert f"<strong>Verified</strong>: {count} events, up to event #{last.pk} of " in text
    assert "Checked " in text


@pytest.mark.django_db
def test_only_an_administrator_re_checks_and_only_by_post(client, alice_client, bob):
    r = alice_client.get(URL + "verify/")
    assert r.status_code == 405
    client.force_login(bob)  # a Publisher: reads the trail, does not administer it
    assert "Re-check the chain now" not in client.get(URL).text
    assert client.post(URL + "verify/").status_code == 403
    assert ChainState.objects.filter(requested_at__isnull=False).count() == 0


@pytest.fixture
def cache_shared_with_the_worker():
    """The chain's state, fresh in the cache this process shares with the worker (one key
    prefix for the run: tests/conftest.py)."""
    verify.remember(ChainState())


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_tampered_row_is_named_after_an_administrators_re_check(
    client, alice, bob, django_user_model, celery_worker, cache_shared_with_the_worker
):
    save_with_secret()
    verify.check()
    admin_user = grant(
        django_user_model.objects.create_user("dana", password="x", is_staff=True),
        "Administrator",
    )
    client.force_login(admin_user)
    assert "<strong>Verified</strong>" in state_text(client)
    victim = AuditEvent.objects.order_by("id")[3]
    before = AuditEvent.objects.filter(id__lt=victim.pk).count()
    tamper(victim)

    r = client.post(URL + "verify/", follow=True)
    assert "Re-check started." in r.text
    deadline = time.monotonic() + 30
    while "Broken" not in (text := state_text(client)):
        assert time.monotonic() < deadline, text
        time.sleep(0.2)
    assert f"Broken at event #{victim.pk} (" in text
    assert "its content does not match its hash (it was changed)" in text
    assert f"The {before} events up to" in text
    assert f'href="/admin/audit/auditevent/{victim.pk}/change/">Open the broken event' in text

    # Every console page now alerts Administrators, and only them.
    home = client.get("/")
    assert 'id="audit-chain-broken"' in home.text and f"event #{victim.pk}" in home.text
    client.force_login(bob)
    assert 'id="audit-chain-broken"' not in client.get("/").text


@pytest.mark.django_db
def test_the_command_stores_what_it_found(alice_client, capsys):
    save_with_secret()
    victim = AuditEvent.objects.order_by("id")[2]
    tamper(victim)
    with pytest.raises(Exception, match=f"#{victim.pk} "):
        call_command("verify_audit_chain")
    assert verify.state().broken_event_id == victim.pk
    assert verify.broken_alert() == {"broken": True, "event": victim.pk}
    AuditEvent.objects.filter(pk=victim.pk).delete()  # removing it breaks the next link
    with pytest.raises(Exception, match="was removed or changed"):
        call_command("verify_audit_chain")


def test_a_periodic_task_keeps_it_current():
    schedule = settings.CELERY_BEAT_SCHEDULE["verify-audit-chain"]
    assert schedule["task"] == "audit.tasks.verify_audit_chain"
    from audit.tasks import verify_audit_chain

    assert verify_audit_chain.name == schedule["task"]


@pytest.mark.django_db
def test_pending_events_are_chained_before_verifying():
    recorder.record_pending(A.TOKEN_USED, object_type="prompts_library.apitoken", object_id=1)
    state = verify.check()
    assert not state.is_broken and state.events_checked == AuditEvent.objects.count()


@pytest.mark.django_db
def test_the_alert_is_looked_up_only_where_a_page_shows_it(
    client, alice, bob, monkeypatch, request
):
    verify.remember(ChainState(broken_event_id=42, problem="its content was changed"))
    request.addfinalizer(lambda: verify.remember(ChainState()))
    looked = []
    real = verify.broken_alert
    monkeypatch.setattr(verify, "broken_alert", lambda: looked.append(1) or real())
    client.force_login(alice)
    home = client.get("/")
    assert 'id="audit-chain-broken"' in home.text and "event #42" in home.text
    assert looked == [1]
    # A part that htmx swaps in (here a test's status) has no place for the alert: no look.
    looked.clear()
    from django.template.loader import render_to_string

    render_to_string("integrations/_badge.html", {"integration": None}, home.wsgi_request)
    assert looked == []
    client.force_login(bob)  # not an Administrator: never alerted
    assert 'id="audit-chain-broken"' not in client.get("/").text
