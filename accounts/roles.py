"""Roles are Django groups with permissions; views check permissions, never group names.

Viewer reads everything but secrets; Editor also creates and edits integrations and prompts
and runs tests; Publisher also publishes prompts and manages API tokens; Administrator also
manages users and roles and exports the audit trail. Roles do not require is_staff: is_staff
only opens Django admin (the audit trail's review screen), which Administrators should have.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.apps import apps as django_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import DEFAULT_DB_ALIAS, transaction

from audit import recorder

VIEWER = "Viewer"
EDITOR = "Editor"
PUBLISHER = "Publisher"
ADMINISTRATOR = "Administrator"

_READ = [
    "integrations.view_provider",
    "integrations.view_bedrockmodel",
    "integrations.view_connectiontest",
    "prompts_library.view_feature",
    "prompts_library.view_prompt",
    "prompts_library.view_promptversion",
    "prompts_library.view_prompttest",
    "prompts_library.view_apitoken",
    "audit.view_auditevent",
    "usage.view_callrecord",
]
_EDIT = [
    "integrations.add_provider",
    "integrations.change_provider",
    "integrations.add_bedrockmodel",
    "integrations.change_bedrockmodel",
    "prompts_library.add_feature",
    "prompts_library.add_prompt",
    "prompts_library.change_prompt",
    "prompts_library.add_promptversion",
    "accounts.run_tests",
]
_PUBLISH = [
    "accounts.publish_prompts",
    "accounts.manage_api_tokens",
    "prompts_library.add_apitoken",
    "prompts_library.change_apitoken",
]
_ADMINISTER = [
    "accounts.manage_users",
    # The audit app's own permission, beside view_auditevent: the trail's rules live with it.
    "audit.export_audit",
    "audit.verify_audit",
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.delete_user",
    "auth.view_group",
]

ROLES: dict[str, list[str]] = {
    VIEWER: _READ,
    EDITOR: _READ + _EDIT,
    PUBLISHER: _READ + _EDIT + _PUBLISH,
    ADMINISTRATOR: _READ + _EDIT + _PUBLISH + _ADMINISTER,
}

# What each console action needs.
VIEW = "integrations.view_bedrockmodel"
VIEW_PROMPTS = "prompts_library.view_prompt"
ADD_INTEGRATION = "integrations.add_bedrockmodel"
CHANGE_INTEGRATION = "integrations.change_bedrockmodel"
ADD_PROMPT = "prompts_library.add_prompt"
CHANGE_PROMPT = "prompts_library.change_prompt"
RUN_TESTS = "accounts.run_tests"
PUBLISH = "accounts.publish_prompts"
MANAGE_TOKENS = "accounts.manage_api_tokens"
VIEW_TOKENS = "prompts_library.view_apitoken"
VIEW_USAGE = "usage.view_callrecord"


def sync_roles(sender: Any = None, *, using: str = DEFAULT_DB_ALIAS, **_: Any) -> None:
    """post_migrate: after every migrate (and flush), the roles are what ROLES says.

    It runs when every app's permissions exist, so a role may name a permission of any app, a
    later one included.
    """
    ensure_roles(using=using)


def ensure_roles(using: str = DEFAULT_DB_ALIAS) -> None:
    """Create or update the four groups (idempotent); each change it makes is recorded."""
    for config in django_apps.get_app_configs():
        # Each app's permissions are made after its migrations: make them all before use.
        create_permissions(config, verbosity=0, using=using)
    with transaction.atomic(using=using):
        for name, perms in ROLES.items():
            wanted = [_permission(perm, name, using) for perm in perms]
            group = Group.objects.using(using).filter(name=name).first()
            if group is None:
                group = Group.objects.using(using).create(name=name)
                recorder.record_create(group)
            before = recorder.related(group, ("permissions",))
            group.permissions.set(wanted)
            after = recorder.related(group, ("permissions",))
            recorder.record_related(group, before, after, recorder.Action.ROLES)


def _permission(perm: str, role: str, using: str) -> Permission:
    app_label, codename = perm.split(".")
    found = (
        Permission.objects.using(using)
        .filter(content_type__app_label=app_label, codename=codename)
        .first()
    )
    if found is None:
        raise ImproperlyConfigured(f"The role {role} names {perm}, which no app defines.")
    return found


def require(*perms: str, post: tuple[str, ...] = ()) -> Callable[..., Any]:
    """Signed-out → login page; signed in without the permissions → 403.

    `post` lists extra permissions that a POST needs (a page that reads with one permission
    and writes with another).
    """

    def check(request: Any, user: Any) -> Any:
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        needed = perms + (post if request.method == "POST" else ())
        if not user.is_active or not user.has_perms(needed):
            raise PermissionDenied
        return None

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
                user = await request.auser()
                refused = await sync_to_async(check)(request, user)
                if refused is not None:
                    return refused
                return await view(request, *args, **kwargs)

            return async_wrapper

        @functools.wraps(view)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            refused = check(request, request.user)
            if refused is not None:
                return refused
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
