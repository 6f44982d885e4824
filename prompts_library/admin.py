from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit import recorder
from audit.admin import AuditedModelAdmin
from config.admin import ReadOnlyAdminMixin
from prompts_library import tokens
from prompts_library.apicache import ChangesApiServing
from prompts_library.models import ApiToken, Feature, Prompt, PromptTest, PromptVersion


@admin.register(Feature)
class FeatureAdmin(ChangesApiServing, AuditedModelAdmin):
    list_display = ("name", "created")
    search_fields = ("name",)


class VersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PromptVersion
    fields = ("number", "change_note", "author", "created")
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(Prompt)
class PromptAdmin(ChangesApiServing, AuditedModelAdmin):
    list_display = ("name", "slug", "feature", "integration", "published_version", "updated")
    list_select_related = ("feature", "integration__provider", "published_version")
    list_filter = ("feature",)
    search_fields = ("name", "slug")
    readonly_fields = ("slug", "created", "updated")
    raw_id_fields = ("integration", "published_version")
    inlines = [VersionInline]


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
    # token_hash is not editable, so it never appears in forms; it is not listed either.
    list_display = ("name", "prefix", "created_by", "created", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    fields = ("name", "prefix", "prompts", "features", "created_by", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_by", "last_used_at")
    filter_horizontal = ("prompts", "features")
    recorded_links = tokens.SCOPE

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "revoked_at" in form.changed_data and obj.revoked_at is not None:
            recorder.record(recorder.Action.TOKEN_REVOKED, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tokens are created in the console, which shows the token once.
        return False
