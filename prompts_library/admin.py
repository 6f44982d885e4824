from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts import roles
from audit.admin import AuditedModelAdmin
from config.admin import ReadOnlyAdminMixin
from integrations.admin import chain_html
from prompts_library import fallbacks as prompt_fallbacks
from prompts_library import tokens
from prompts_library.apicache import ChangesApiServing
from prompts_library.models import ApiToken, Feature, Prompt, PromptTest, PromptVersion


@admin.register(Feature)
class FeatureAdmin(ChangesApiServing, AuditedModelAdmin):
    list_display = ("name", "created")
    search_fields = ("name",)


class VersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PromptVersion
    fields = ("number", "change_note", "author", "created", "imported", "original_author")
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(Prompt)
class PromptAdmin(ChangesApiServing, AuditedModelAdmin):
    """Browsable only. Prompts are created, edited, published and rolled back in the console,
    where every save is a new version and publishing is its own permission and audit event.
    Deleting (a superuser's permission) leaves tokens limited to the prompt allowing less."""

    list_display = ("name", "slug", "feature", "integration", "published_version", "updated")
    list_select_related = ("feature", "integration__provider", "published_version")
    list_filter = ("feature",)
    search_fields = ("name", "slug")
    fields = (
        "name",
        "slug",
        "feature",
        "integration",
        "published_version",
        "fallbacks_shown",
        "edit_in_console",
        "created",
        "updated",
    )
    readonly_fields = fields
    inlines = [VersionInline]

    @admin.display(description="Fallbacks")
    def fallbacks_shown(self, obj: Prompt) -> str:
        return chain_html(
            prompt_fallbacks.own_chain(obj),
            reverse("prompts_library:fallbacks", args=[obj.pk]),
            "No chain of its own: its model's chain applies.",
        )

    @admin.display(description="Changes")
    def edit_in_console(self, obj: Prompt) -> str:
        return format_html(
            '<a href="{}">Edit, publish or roll back in the console</a>', obj.get_absolute_url()
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created in the console, with its first version

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PromptVersion)
class PromptVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Versions are immutable: browsable, never editable."""

    list_display = ("prompt", "number", "author", "change_note", "created")
    list_select_related = ("prompt", "author")
    search_fields = ("prompt__name", "change_note")


@admin.register(PromptTest)
class PromptTestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Records of what happened, like connection tests: never deleted through the admin."""

    list_display = ("id", "prompt", "version", "status", "error_code", "created_by", "created")
    list_select_related = ("prompt", "version", "created_by")
    list_filter = ("status", "failed_step")


@admin.register(ApiToken)
class ApiTokenAdmin(ChangesApiServing, AuditedModelAdmin):
    """Browsable; revoked with the console's own action and permission, never un-revoked or
    re-scoped. Tokens are created in the console, which shows the token once."""

    # token_hash is not editable, so it never appears in forms; it is not listed either.
    list_display = (
        "name",
        "prefix",
        "allowed",
        "created_by",
        "created",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("revoked_at", "all_prompts", "all_integrations")
    list_select_related = ("created_by",)
    search_fields = ("name", "prefix")
    fields = ("name", "prefix", "allowed", "created_by", "created", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return (
            super()
            .get_queryset(request)
            .prefetch_related("prompts", "features", "integrations__provider")
        )

    @admin.display(description="Allowed")
    def allowed(self, obj: ApiToken) -> str:
        if obj.allows_nothing:
            return "Nothing: the prompts, features and integrations it was limited to were deleted"
        names = (
            ["All prompts"]
            if obj.all_prompts
            else [str(p) for p in obj.prompts.all()]
            + [f"prompts of {f}" for f in obj.features.all()]
        )
        if obj.all_integrations:
            names.append("All integrations")
        else:
            names += [f"integration {i.api_name}" for i in obj.integrations.all()]
        return ", ".join(names)

    def has_manage_api_tokens_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(roles.MANAGE_TOKENS)

    @admin.action(
        description="Revoke the selected tokens",
        permissions=["manage_api_tokens"],
        location=[ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM],
    )
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        if not self.has_manage_api_tokens_permission(request):
            raise PermissionDenied
        pks = list(queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True))
        revoked = sum(1 for pk in pks if tokens.revoke_token(pk) is not None)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
