"""Admin building blocks shared by the apps.

`config` is the project, not an app: every app may import from here and this module imports
no app, so sharing an admin mixin never ties one app's admin to another's.
"""

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Browsable, never added, changed or deleted through the admin (records of what happened)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
