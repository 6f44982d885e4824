"""Users and roles in Django admin: role-safe, and every change recorded in the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminPasswordChangeForm as OwnPasswordChangeForm
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest

from accounts.throttle import ThrottledAdminAuthenticationForm
from audit import recorder
from audit.admin import AuditedModelAdmin

User = get_user_model()


class RecordsPasswordChange:
    """A password form whose save also records the change (the password itself masked)."""

    user: Any

    def save(self, commit: bool = True) -> Any:
        if not commit:
            return super().save(commit=False)  # type: ignore[misc]
        with transaction.atomic():
            before = recorder.snapshot(self.user)
            user = super().save()  # type: ignore[misc]
            recorder.record_update(user, before)
        return user


class RecordedAdminPasswordChangeForm(RecordsPasswordChange, AdminPasswordChangeForm):
    """An administrator sets another user's password (Users → Change password)."""


class RecordedOwnPasswordChangeForm(RecordsPasswordChange, OwnPasswordChangeForm):
    """A staff user changes their own password (admin → Change password)."""


class RoleSafeUserAdmin(AuditedModelAdmin, UserAdmin):
    """Administrators manage users and their roles; only a superuser makes superusers.

    Without this, anyone with change_user could tick is_superuser or grant themselves any
    single permission (role escalation). Changes of a user's groups and permissions are
    recorded as "Roles changed".
    """

    recorded_links = ("groups", "user_permissions")
    links_action = recorder.Action.ROLES
    change_password_form = RecordedAdminPasswordChangeForm
    # Adds links to the user's audit timeline and to what the user did.
    change_form_template = "admin/audit/user_change_form.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
            if obj is not None and obj.pk == request.user.pk:
                fields += ["groups", "is_staff", "is_active"]
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


class RecordedGroupAdmin(AuditedModelAdmin, GroupAdmin):
    """Roles are groups: a change of a group's permissions is recorded as "Roles changed"."""

    recorded_links = ("permissions",)
    links_action = recorder.Action.ROLES


for model, model_admin in ((User, RoleSafeUserAdmin), (Group, RecordedGroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)

admin.site.login_form = ThrottledAdminAuthenticationForm
admin.site.password_change_form = RecordedOwnPasswordChangeForm
