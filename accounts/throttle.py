"""Login throttling: after LOGIN_FAILURE_LIMIT failures for a user name or from an address
within LOGIN_LOCKOUT_SECONDS, logins for it are refused until the window has passed.

A small cache-based throttle (the shared cache: Redis in production) rather than django-axes,
whose releases do not yet declare support for Django 6.1.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache

THROTTLED = "Too many failed logins. Try again in %(minutes)s minutes."


def _keys(request: Any, username: str) -> list[str]:
    ip = (request.META.get("REMOTE_ADDR") or "") if request is not None else ""
    parts = [f"user:{username.strip().lower()}", f"ip:{ip}"]
    return ["login-fail:" + hashlib.sha256(p.encode()).hexdigest() for p in parts]


def is_locked(request: Any, username: str) -> bool:
    limit = settings.LOGIN_FAILURE_LIMIT
    return any((cache.get(k) or 0) >= limit for k in _keys(request, username))


def note_failure(request: Any, username: str) -> None:
    for key in _keys(request, username):
        if not cache.add(key, 1, settings.LOGIN_LOCKOUT_SECONDS):
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)


def clear(request: Any, username: str) -> None:
    cache.delete(_keys(request, username)[0])


class ThrottledLogin(forms.Form):
    """Refuses a login while its user name or address is locked; counts failures."""

    request: Any

    def clean(self) -> dict[str, Any]:
        username = self.data.get("username", "") or ""
        if is_locked(self.request, username):
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
