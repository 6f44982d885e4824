"""Logins: the same throttle at every door, and each outcome recorded."""

import secrets

import pytest
from django.test import Client

from audit.models import AuditEvent


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_both_login_pages_are_throttled(alice, settings, url):
    settings.LOGIN_FAILURE_LIMIT = 3
    # An address of its own (documentation prefix, 48 random bits): the throttle counts per
    # address in the shared cache, and no other test or run may have failed from it.
    address = "2001:db8::" + ":".join(secrets.token_hex(2) for _ in range(3))
    client = Client(REMOTE_ADDR=address)
    name = f"alice-{secrets.token_hex(4)}"
    alice.username = name
    alice.save()
    for _ in range(3):
        r = client.post(url, {"username": name, "password": "wrong"})
        assert r.status_code == 200 and "_auth_user_id" not in client.session
    r = client.post(url, {"username": name, "password": "alice-password-long"})
    assert r.status_code == 200 and "Too many failed logins" in r.text
    assert "_auth_user_id" not in client.session
    failed = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED, object_repr=name)
    assert failed.count() == 4  # three wrong passwords, then the refusal
    assert failed.filter(changes__reason="throttled").count() == 1
