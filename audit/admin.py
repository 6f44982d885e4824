import csv
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.functional import cached_property
from django.utils.html import format_html

from audit import recorder
from audit.models import AuditEvent
from audit.roles import EXPORT_AUDIT
from integrations.admin import ReadOnlyAdminMixin

CSV_FIELDS = (
    "id",
    "created",
    "actor_repr",
    "ip",
    "user_agent",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "prev_hash",
    "hash",
)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _safe_cell(value: Any) -> str:
    # Spreadsheets run cells that start with = + - @ as formulas: keep them text.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows (SELECT COUNT(*) FROM (... LIMIT cap)), never the whole table.

    The count only decides how many page links the changelist shows; with a million events the
    changelist says "10000" and offers the pages up to there (and further when asked for)."""

    def __init__(self, *args: Any, cap: int = 10_000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cap = cap

    @cached_property
    def count(self) -> int:
        queryset: Any = self.object_list
        return queryset.order_by()[: self.cap].count()


class ObjectTypeFilter(admin.SimpleListFilter):
    """The installed models, without reading the distinct values of a million rows."""

    title = "object type"
    parameter_name = "object_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return sorted((m._meta.label_lower, m._meta.label_lower) for m in apps.get_models())

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(object_type=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "created", "actor_repr", "action", "object_type", "object_link", "ip")
    # No date_hierarchy: it reads the distinct days of the whole table; "created" filters by date.
    list_filter = ("action", ObjectTypeFilter, "actor", "created")
    search_fields = ("=object_id", "object_repr", "actor_repr", "ip", "user_agent")
    show_full_result_count = False
    list_per_page = 50
    paginator = CappedCountPaginator
    list_select_related = ("actor",)
    actions = ["export_csv"]
    readonly_fields = [*CSV_FIELDS[1:], "actor"]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        # Token uses are written beside the chain and chained in batches: show them all.
        recorder.chain_pending()
        return super().changelist_view(request, extra_context)

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: Any,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> Paginator:
        # Enough rows counted to reach the page asked for, and ten pages past it.
        raw = request.GET.get("p", "")
        page = int(raw) if raw.isdigit() else 1
        cap = max(10_000, (page + 10) * per_page)
        return CappedCountPaginator(queryset, per_page, orphans, allow_empty_first_page, cap=cap)

    @admin.display(description="Object")
    def object_link(self, obj: AuditEvent) -> str:
        if not obj.object_type:
            return obj.object_repr
        return format_html(
            '<a href="?object_type={}&amp;object_id={}">{}</a>',
            obj.object_type,
            obj.object_id,
            obj.object_repr or f"#{obj.object_id}",
        )

    def has_export_audit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_AUDIT)

    @admin.action(description="Export the selected events as CSV", permissions=["export_audit"])
    def export_csv(
        self, request: HttpRequest, queryset: Any
    ) -> HttpResponse | StreamingHttpResponse:
        if not request.user.has_perm(EXPORT_AUDIT):
            return HttpResponse(status=403)
        rows = queryset.order_by("id")
        recorder.record(
            AuditEvent.Action.EXPORT,
            object_type="audit.auditevent",
            changes={"events": rows.count()},
        )
        writer = csv.writer(_Echo())

        def lines():
            yield writer.writerow(CSV_FIELDS)
            for event in rows.iterator(chunk_size=2000):
                yield writer.writerow(
                    [_safe_cell(getattr(event, f)) for f in CSV_FIELDS]  # changes are masked
                )

        response = StreamingHttpResponse(lines(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
        return response


# --- users and roles -----------------------------------------------------------------------

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.admin import UserAdmin  # noqa: E402

User = get_user_model()


class RoleSafeUserAdmin(UserAdmin):
    """Administrators manage users and their roles; only a superuser makes superusers.

    Without this, anyone with change_user could tick is_superuser or grant themselves any
    single permission (role escalation).
    """

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


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, RoleSafeUserAdmin)
