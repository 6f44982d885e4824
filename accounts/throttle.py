"""Login throttling that cannot be turned against a user.

Failures are counted per (user name, client address) and per client address, in the shared
cache, for LOGIN_LOCKOUT_SECONDS:
- LOGIN_FAILURE_LIMIT wrong passwords for a user name from one address lock that user name
  from that address only: someone guessing alice's password elsewhere cannot lock alice out;
- LOGIN_ADDRESS_FAILURE_LIMIT failures from one address, whatever the names, lock that
  address: one source cannot try many accounts.
Both the console's login page and Django admin's use this form, so a lock on one door is a
lock on both. A refused attempt is recorded in the audit trail (failed login, "throttled").

The client's address is REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT reverse proxies that each
append to X-Forwarded-For, the entry that the outermost trusted proxy appended: entries left
of it are what the client sent and can say anything.

A small cache-based throttle rather than django-axes, whose releases do not yet declare
support for Django 6.1.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache

from audit import recorder

THROTTLED = "Too many failed logins. Try again in %(minutes)s minutes."


def client_address(request: Any) -> str:
    """The client's address, taking TRUSTED_PROXY_COUNT reverse proxies into account."""
    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [h for h in hops if h]
    if len(hops) < proxies:
        return remote  # not through the proxies it should have come through
    candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def _key(*parts: str) -> str:
    return "login-fail:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _keys(request: Any, username: str) -> tuple[str, str]:
    address = client_address(request)
    return _key("pair", username.strip().lower(), address), _key("address", address)


def is_locked(request: Any, username: str) -> bool:
    pair, address = _keys(request, username)
    counts = cache.get_many([pair, address])
    return (
        counts.get(pair, 0) >= settings.LOGIN_FAILURE_LIMIT
        or counts.get(address, 0) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT
    )


def note_failure(request: Any, username: str) -> None:
    for key in _keys(request, username):
        if not cache.add(key, 1, settings.LOGIN_LOCKOUT_SECONDS):
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)


def clear(request: Any, username: str) -> None:
    """A successful login clears its own (user name, address) count, not the address's."""
    cache.delete(_keys(request, username)[0])


def _record_refusal(request: Any, username: str) -> None:
    token = recorder.set_context(recorder.context_from_request(request) if request else None)
    try:
        recorder.record(
            recorder.Action.LOGIN_FAILED,
            object_type="auth.user",
            object_repr=username[:150],
            changes={"username": username[:150], "reason": "throttled"},
        )
    finally:
        recorder.reset_context(token)


class ThrottledLogin(forms.Form):
    """Refuses a login while its (user name, address) or its address is locked."""

    request: Any

    def clean(self) -> dict[str, Any]:
        username = self.data.get("username", "") or ""
        if is_locked(self.request, username):
            _record_refusal(self.request, username)
            raise forms.ValidationError(
                THROTTLED,
                code="throttled",
                params={"minutes": max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)},
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            note_failure(self.request, username)
            raise
        clear(self.request, username)
        return self.cleaned_data if cleaned is None else cleaned


class ThrottledAuthenticationForm(ThrottledLogin, AuthenticationForm):
    """The console's login page."""


class ThrottledAdminAuthenticationForm(ThrottledLogin, AdminAuthenticationForm):
    """Django admin's login page: the same throttle, so that the admin is no way around it."""
