from typing import Any

from django.contrib import admin
from django.db import router, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from audit.admin import AuditedModelAdmin
from config.admin import ReadOnlyAdminMixin
from integrations import fallbacks
from integrations.models import BedrockModel, ConnectionTest, Provider, masked_headers
from prompts_library.apicache import ChangesApiServing


def _headers_html(rows: list) -> str:
    shown = masked_headers(rows)
    if not shown:
        return "—"
    return format_html_join(
        "", "<div><code>{}: {}</code></div>", ((h["name"], h["value"]) for h in shown)
    )


def chain_html(chain: list[BedrockModel], edit_url: str, empty: str) -> str:
    """A fallback chain as the admin shows it: read-only, in order, with the one door to change
    it (the console's Change fallbacks page, where its rules are checked and it is audited)."""
    if chain:
        shown = format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                '<li>Fallback {}: <a href="{}">{}</a></li>',
                ((n, m.get_absolute_url(), m) for n, m in enumerate(chain, start=1)),
            ),
        )
    else:
        shown = format_html("<p>{}</p>", empty)
    return format_html('{}<a href="{}">Change fallbacks in the console</a>', shown, edit_url)


@admin.register(Provider)
class ProviderAdmin(AuditedModelAdmin):
    """The name may be corrected here; the External ID, which the provider's trust policies
    require, is the console's (providers are made by an integration's Save)."""

    list_display = ("name", "external_id", "created")
    search_fields = ("name",)
    show_full_result_count = False
    fields = ("name", "external_id", "created")
    readonly_fields = ("external_id", "created")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(BedrockModel)
class BedrockModelAdmin(ChangesApiServing, AuditedModelAdmin):
    # Prompts are served by the Invoke API with their integration: edits here reach its cache.

    list_display = (
        "name",
        "provider",
        "api_name",
        "model_id",
        "verified_badge",
        "last_test",
        "last_success_at",
        "last_failure_at",
    )
    list_select_related = ("provider", "last_test")
    list_filter = ("provider",)
    search_fields = ("name", "provider__name", "api_name", "model_id", "role_arn")
    show_full_result_count = False
    # Configuration changes go through the console's form, where they are validated and tested.
    fields = (
        "provider",
        "name",
        "api_name",
        "role_arn",
        "sts_endpoint",
        "external_id",
        "model_id",
        "endpoint",
        "headers_masked",
        "request_format",
        "request_json",
        "verified_badge",
        "last_test",
        "last_success_at",
        "last_failure_at",
        "last_failure_reason",
        "fallbacks_shown",
        "edit_in_console",
    )
    readonly_fields = (
        "provider",
        "api_name",  # changed on the console's form, with its rule
        "role_arn",
        "sts_endpoint",
        "external_id",
        "model_id",
        "endpoint",
        "headers_masked",
        "request_format",
        "request_json",
        "verified_badge",
        "last_test",
        "last_success_at",
        "last_failure_at",
        "last_failure_reason",
        "fallbacks_shown",
        "edit_in_console",
    )

    @admin.display(description="Fallbacks")
    def fallbacks_shown(self, obj: BedrockModel) -> str:
        if not obj.pk:
            return "—"
        return chain_html(
            fallbacks.chain_of(obj),
            reverse("integrations:fallbacks", args=[obj.pk]),
            "No fallbacks: a throttled or failing call fails.",
        )

    @admin.display(description="Status")
    def verified_badge(self, obj: BedrockModel) -> str:
        return "Verified" if obj.verified else "Unverified"

    @admin.display(description="Headers")
    def headers_masked(self, obj: BedrockModel) -> str:
        return _headers_html(obj.headers)

    @admin.display(description="Configuration")
    def edit_in_console(self, obj: BedrockModel) -> str:
        if not obj.pk:
            return "—"
        url = reverse("integrations:edit", args=[obj.pk])
        return format_html(
            '<a href="{}">Edit and test in the console</a> '
            "(secret values are replaced there, by typing a new value)",
            url,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: BedrockModel) -> None:
        # In the delete view's transaction: the chains that named it change with it, audited.
        fallbacks.do_remove_deleted([obj], user=request.user)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        with transaction.atomic(using=router.db_for_write(self.model)):
            fallbacks.do_remove_deleted(list(queryset.select_related("provider")), request.user)
            super().delete_queryset(request, queryset)


@admin.register(ConnectionTest)
class ConnectionTestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "integration",
        "status",
        "failed_step",
        "error_code",
        "kind",
        "created_by",
        "created",
        "sts_ms",
        "invoke_ms",
    )
    list_select_related = ("integration__provider", "created_by")
    list_filter = ("status", "kind", "failed_step")
    search_fields = ("=id", "request_id", "error_code", "integration__name", "model_id", "role_arn")
    date_hierarchy = "created"
    show_full_result_count = False
    exclude = ("headers",)
    readonly_fields = ("headers_masked",)

    @admin.display(description="Headers")
    def headers_masked(self, obj: ConnectionTest) -> str:
        return _headers_html(obj.headers)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "headers"] + ["headers_masked"]
