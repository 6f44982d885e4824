import csv
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import router, transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.functional import cached_property
from django.utils.html import format_html

from audit import recorder
from audit.models import AuditEvent
from config.admin import ReadOnlyAdminMixin

EXPORT_AUDIT = "audit.export_audit"

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


class AuditedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose adds, changes and deletes write their audit events.

    Each event is written here, in the admin's own transaction (changeform_view and delete_view
    run in transaction.atomic; the delete action is wrapped below), so the change and its event
    commit together. `recorded_links` names many-to-many fields whose changes are recorded too
    (saved by save_related), with `links_action`.
    """

    recorded_links: tuple[str, ...] = ()
    links_action: str = recorder.Action.UPDATE

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # The form has already written the new values onto obj: read what was stored.
        stored = self.model._base_manager.filter(pk=obj.pk).first() if change else None
        before = recorder.snapshot(stored) if stored is not None else None
        super().save_model(request, obj, form, change)
        recorder.record_saved(obj, before)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        before = recorder.related(form.instance, self.recorded_links)
        super().save_related(request, form, formsets, change)
        after = recorder.related(form.instance, self.recorded_links)
        recorder.record_related(form.instance, before, after, self.links_action)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        recorder.record_delete(obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        # The "Delete selected" action runs outside the admin's transactions: open one.
        with transaction.atomic(using=router.db_for_write(self.model)):
            for obj in queryset:
                recorder.record_delete(obj)
            super().delete_queryset(request, queryset)


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
