from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.core.validators import validate_ipv46_address
from django.db import router, transaction
from django.db.models import Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from audit import archive, changelist, describe, export, filters, paging, recorder, verify
from audit.models import AuditEvent
from config import params
from config.admin import ReadOnlyAdminMixin

EXPORT_AUDIT = "audit.export_audit"
VERIFY_AUDIT = "audit.verify_audit"
# The furthest page of the audit list that may be asked for (?p=; 50 events a page).
MAX_PAGE = 1_000_000


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


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "created", "actor_repr", "action", "kind", "object_link", "summary", "ip")
    list_display_links = ("id", "created")
    # No date_hierarchy: it reads the distinct days of the whole table; "date" is a from/to form.
    list_filter = (
        filters.TimelineFilter,
        "action",
        filters.KindFilter,
        filters.OutcomeFilter,
        "actor",
        filters.DateRangeFilter,
    )
    search_help_text = "Search by object name or actor (any part), or by IP address (whole)."
    search_fields = ("object_repr", "actor_repr", "ip")  # see get_search_results
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    paginator = paging.LookaheadPaginator
    list_select_related = False
    actions = ["export_csv"]
    fieldsets = (
        (None, {"fields": ("created", "actor_name", "action", "kind", "object_with_links")}),
        ("From where", {"fields": ("ip", "user_agent")}),
        ("What changed", {"fields": ("change_table",)}),
        ("Chain", {"fields": ("id", "prev_hash", "hash")}),
    )
    readonly_fields = [
        "id",
        "created",
        "actor_name",
        "action",
        "kind",
        "object_with_links",
        "ip",
        "user_agent",
        "change_table",
        "prev_hash",
        "hash",
    ]

    change_list_template = "admin/audit/auditevent/review_list.html"

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        # Token uses are written beside the chain and chained in batches: show them all.
        recorder.chain_pending()
        query = request.GET.copy()
        query.pop("p", None)
        context = {
            "chain_state": verify.state(),
            "checkpoint": archive.latest_checkpoint(),
            "can_verify": request.user.has_perm(VERIFY_AUDIT),
            "can_export": request.user.has_perm(EXPORT_AUDIT),
            "export_query": query.urlencode(),
            **(extra_context or {}),
        }
        response = super().changelist_view(request, context)
        data = getattr(response, "context_data", None) or {}
        cl = data.get("cl")
        if cl is not None and getattr(cl.paginator, "more", False):
            # The count stopped past the pager's last link: no total is known (audit.paging).
            data["selection_note_all"] = (
                f"All audit events that match selected (more than {cl.paginator.at_least})"
            )
        return response

    def get_urls(self) -> list[Any]:
        own = [
            path(
                "export.<str:fmt>",
                self.admin_site.admin_view(self.export_view),
                name="audit_auditevent_export",
            ),
            path(
                "verify/",
                self.admin_site.admin_view(self.verify_view),
                name="audit_auditevent_verify",
            ),
        ]
        return own + super().get_urls()

    def verify_view(self, request: HttpRequest) -> HttpResponse:
        """An Administrator asks for the chain to be verified again, now (by a worker)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(VERIFY_AUDIT):
            raise PermissionDenied
        try:
            verify.request_check()
        except verify.CheckNotStarted:
            self.message_user(
                request,
                "The re-check could not start: the task queue cannot be reached. Try again "
                "when it is back, or run manage.py verify_audit_chain.",
                messages.ERROR,
            )
        else:
            self.message_user(
                request, "Re-check started. Reload this page in a moment to see its result."
            )
        return redirect("admin:audit_auditevent_changelist")

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> Any:
        return changelist.ReviewChangeList

    def get_ordering(self, request: HttpRequest) -> Any:
        # A timeline reads in order, oldest first; the list shows the latest first.
        if filters.is_timeline(request):
            return ("created", "id")
        return ("-created", "-id")

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        """An IP address: the events from it (exactly). Anything else: by object name or actor
        (contains, any case). Each has an index (trigram ones on PostgreSQL)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            validate_ipv46_address(term)
        except ValidationError:
            return queryset.filter(
                Q(object_repr__icontains=term) | Q(actor_repr__icontains=term)
            ), False
        return queryset.filter(ip=term), False

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: Any,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> Paginator:
        # Rows counted only as far as the pager links (see audit.paging).
        page = params.parse_int(request.GET.get("p"), minimum=1, maximum=MAX_PAGE) or 1
        return paging.LookaheadPaginator(
            queryset, per_page, orphans, allow_empty_first_page, page=page
        )

    def action_checkbox(self, obj: Any) -> SafeString:
        """Django's checkbox, written here: rendering its widget template for each row was about
        a third of the list's rendering time."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            f"Select this object for an action - {obj}",
        )

    @admin.display(description="Kind of object", ordering="object_type")
    def kind(self, obj: AuditEvent) -> str:
        return describe.kind_name(obj.object_type)

    @admin.display(description="Actor")
    def actor_name(self, obj: AuditEvent) -> str:
        return obj.actor_repr or "nobody signed in"

    @admin.display(description="Change")
    def summary(self, obj: AuditEvent) -> str:
        return describe.summary(obj)

    @admin.display(description="Object")
    def object_link(self, obj: AuditEvent) -> str:
        """The object's timeline."""
        if not obj.object_type or not obj.object_id:
            return obj.object_repr
        return format_html(
            '<a href="?object_type={}&amp;object_id={}" title="History of this object">{}</a>',
            obj.object_type,
            obj.object_id,
            obj.object_repr or f"#{obj.object_id}",
        )

    @admin.display(description="Object")
    def object_with_links(self, obj: AuditEvent) -> str:
        name = obj.object_repr or (f"#{obj.object_id}" if obj.object_id else "—")
        links = describe.links(obj)
        parts = [("Open in the console", links.console), ("Open in admin", links.admin)]
        if obj.object_type and obj.object_id:
            timeline = reverse("admin:audit_auditevent_changelist")
            timeline += (
                f"?{urlencode({'object_type': obj.object_type, 'object_id': obj.object_id})}"
            )
            parts.append(("History", timeline))
        shown = format_html_join(" · ", '<a href="{}">{}</a>', ((u, t) for t, u in parts if u))
        gone = "" if links.console or links.admin or not obj.object_id else " (no longer exists)"
        return format_html("{}{} {}", name, gone, shown)

    @admin.display(description="Change")
    def change_table(self, obj: AuditEvent) -> str:
        shown = describe.readable(obj)
        if not shown.rows and not shown.details:
            return "—"
        rows = format_html_join(
            "",
            '<tr><th scope="row">{}</th><td>{}</td><td>{}</td></tr>',
            ((r.field, r.before, r.after) for r in shown.rows),
        )
        table = (
            format_html(
                '<table class="audit-changes"><thead><tr><th scope="col">Field</th>'
                '<th scope="col">Before</th><th scope="col">After</th></tr></thead>'
                "<tbody>{}</tbody></table>",
                rows,
            )
            if shown.rows
            else ""
        )
        details = format_html_join(
            "",
            '<tr><th scope="row">{}</th><td>{}</td></tr>',
            ((d.field, d.value) for d in shown.details),
        )
        more = (
            format_html(
                '<table class="audit-details"><thead><tr><th scope="col">Detail</th>'
                '<th scope="col">Value</th></tr></thead><tbody>{}</tbody></table>',
                details,
            )
            if shown.details
            else ""
        )
        return format_html("{}{}", table, more)

    def has_export_audit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_AUDIT)

    @admin.action(description="Export the selected events as CSV", permissions=["export_audit"])
    def export_csv(self, request: HttpRequest, queryset: Any) -> HttpResponseBase:
        return self._export(request, queryset, "csv", {"selected": "yes"})

    def export_view(self, request: HttpRequest, fmt: str) -> HttpResponseBase:
        """The events of the list as filtered (same URL parameters), in CSV or JSON Lines."""
        if fmt not in export.FORMATS:
            raise Http404("No such export format.")
        if not self.has_view_permission(request):
            raise PermissionDenied
        recorder.chain_pending()
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("These filters are not valid: correct them in the list.")
        query = request.GET.copy()
        query.pop("p", None)
        return self._export(request, queryset, fmt, {"filters": query.urlencode()})

    def _export(
        self, request: HttpRequest, queryset: Any, fmt: str, what: dict[str, str]
    ) -> HttpResponseBase:
        if not request.user.has_perm(EXPORT_AUDIT):
            raise PermissionDenied
        # The export is on record; what it holds ends with the last event before it.
        upto = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        recorder.record(
            AuditEvent.Action.EXPORT,
            object_type="audit.auditevent",
            changes={"format": fmt, **what, "up_to_event": upto},
        )
        return export.response(queryset.filter(id__lte=upto), fmt)
