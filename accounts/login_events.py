"""Login, logout and failed login, recorded in the audit trail.

A login is Django's action, not the console's: django.contrib.auth sends these signals from
every door (the console's login page, Django admin's, the test client), and they are its
documented hook for exactly this. They record events; they change nothing and steer nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from audit import recorder

Action = recorder.Action


def _with_request(request: Any, user: Any, action: str, **kwargs: Any) -> None:
    token = recorder.set_context(recorder.context_from_request(request) if request else None)
    try:
        recorder.record(action, user=user, **kwargs)
    finally:
        recorder.reset_context(token)


def logged_in(sender: Any, request: Any, user: Any, **_: Any) -> None:
    _with_request(request, user, Action.LOGIN, obj=user)


def logged_out(sender: Any, request: Any, user: Any, **_: Any) -> None:
    if user is not None:
        _with_request(request, user, Action.LOGOUT, obj=user)


def login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **_: Any) -> None:
    # Django already hides the password in `credentials`; only the username is kept.
    username = str(credentials.get("username", ""))[:150]
    _with_request(
        request,
        None,
        Action.LOGIN_FAILED,
        object_type="auth.user",
        object_repr=username,
        changes={"username": username},
    )


def connect() -> None:
    user_logged_in.connect(logged_in, dispatch_uid="accounts-login")
    user_logged_out.connect(logged_out, dispatch_uid="accounts-logout")
    user_login_failed.connect(login_failed, dispatch_uid="accounts-login-failed")
