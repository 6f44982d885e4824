"""Roles are Django groups with permissions; views check permissions, never group names.

Viewer reads everything but secrets; Editor also creates and edits integrations and prompts
and runs tests; Publisher also publishes prompts and manages API tokens; Administrator also
manages users and roles and exports the audit trail. Roles do not require is_staff: is_staff
only opens Django admin (the audit trail's review screen), which Administrators should have.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

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
    "audit.run_tests",
]
_PUBLISH = [
    "audit.publish_prompts",
    "audit.manage_api_tokens",
    "prompts_library.add_apitoken",
    "prompts_library.change_apitoken",
]
_ADMINISTER = [
    "audit.manage_users",
    "audit.export_audit",
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
RUN_TESTS = "audit.run_tests"
PUBLISH = "audit.publish_prompts"
MANAGE_TOKENS = "audit.manage_api_tokens"
VIEW_TOKENS = "prompts_library.view_apitoken"
EXPORT_AUDIT = "audit.export_audit"


def ensure_roles(apps: Any = None) -> None:
    """Create or update the four groups (used by the data migration; idempotent)."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    historical = apps is not None
    apps = apps or global_apps
    for config in apps.get_app_configs():
        if historical:
            # In a migration the permissions of new models do not exist yet: make them now.
            config.models_module = True
            create_permissions(config, verbosity=0, apps=apps)
            config.models_module = None
        else:
            create_permissions(config, verbosity=0)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted.append(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)


def require(*perms: str, post: tuple[str, ...] = ()) -> Callable[..., Any]:
    """Signed-out → login page; signed in without the permissions → 403.

    `post` lists extra permissions that a POST needs (a page that reads with one permission
    and writes with another).
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            needed = perms + (post if request.method == "POST" else ())
            if not user.is_active or not user.has_perms(needed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
