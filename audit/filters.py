"""The filters a reviewer uses on the audit list, each kept in the URL so a view can be shared.

?action__exact=update  ?kind=integration  ?outcome=failed  ?actor__id__exact=3
?from=2026-11-01&to=2026-11-30
?object_type=integrations.bedrockmodel&object_id=7  (a timeline: one object's whole history)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from audit import describe
from audit.models import AuditEvent

Action = AuditEvent.Action


class KindFilter(admin.SimpleListFilter):
    """The kinds of object the product records events about, by their console names."""

    title = "kind of object"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(k.slug, k.name) for k in describe.KINDS]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        if not value:
            return queryset
        kind = describe.KIND_BY_SLUG.get(value)
        return queryset.filter(object_type=kind.label) if kind else queryset.none()


class OutcomeFilter(admin.SimpleListFilter):
    """Finished tests (connection and prompt tests) by how they ended."""

    title = "test outcome"
    parameter_name = "outcome"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("succeeded", "Succeeded"), ("failed", "Failed")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        if not value:
            return queryset
        if value not in ("succeeded", "failed"):
            return queryset.none()
        return queryset.filter(action=Action.TEST_FINISHED, changes__status=value)


def parse_day(raw: str, *, end: bool) -> dt.datetime | None:
    """A date (YYYY-MM-DD: the whole day) or a date and time, in the console's time zone."""
    raw = raw.strip()
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            moment = dt.datetime.combine(day, dt.time.max if end else dt.time.min)
        else:
            moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class ParametersFilter(admin.ListFilter):
    """A filter that reads several query parameters (kept as strings in self.raw)."""

    parameters: tuple[str, ...] = ()

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        self.raw: dict[str, str] = {}
        for name in self.parameters:
            if name in params:
                self.raw[name] = self.used_parameters[name] = str(params.pop(name)[-1])

    def expected_parameters(self) -> list[str | None]:
        return list(self.parameters)


class DateRangeFilter(ParametersFilter):
    """From and to (both included), as two date fields in one small form."""

    title = "date"
    template = "admin/audit/date_range_filter.html"
    parameters = ("from", "to")

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        self.errors: dict[str, str] = {}
        self.bounds: dict[str, dt.datetime] = {}
        for name, value in self.raw.items():
            if not value.strip():
                continue
            moment = parse_day(value, end=name == "to")
            if moment is None:
                self.errors[name] = "Enter a date as YYYY-MM-DD."
            else:
                self.bounds[name] = moment
        if (
            "from" in self.bounds
            and "to" in self.bounds
            and self.bounds["from"] > self.bounds["to"]
        ):
            self.errors["to"] = "“To” is before “from”."

    def has_output(self) -> bool:
        return True

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.errors:
            return queryset.none()  # the form says why, beside the field
        if "from" in self.bounds:
            queryset = queryset.filter(created__gte=self.bounds["from"])
        if "to" in self.bounds:
            queryset = queryset.filter(created__lte=self.bounds["to"])
        return queryset

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        # The other parameters of the view ride along as hidden fields.
        keep = [
            (name, value)
            for name, values in changelist.params.items()
            if name not in self.parameters and name != "p"
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {
            "hidden": keep,
            "from": self.raw.get("from", ""),
            "to": self.raw.get("to", ""),
            "errors": self.errors,
            "clear": changelist.get_query_string(remove=list(self.parameters)),
            "active": bool(self.used_parameters),
        }


def timeline_q(object_type: str, object_id: str) -> Q:
    """One object's history: its own events, and those of the parts it owns (a prompt's
    versions). One query at most, for the parts."""
    q = Q(object_type=object_type, object_id=object_id)
    if object_type == "prompts_library.prompt" and object_id.isascii() and object_id.isdigit():
        from prompts_library.models import PromptVersion

        versions = PromptVersion.objects.filter(prompt_id=int(object_id)).values_list(
            "pk", flat=True
        )
        ids = [str(pk) for pk in versions]
        if ids:
            q |= Q(object_type="prompts_library.promptversion", object_id__in=ids)
    return q


class TimelineFilter(ParametersFilter):
    """?object_type=…&object_id=…: the whole history of one object, oldest first."""

    title = "timeline"
    template = "admin/audit/timeline_filter.html"
    parameters = ("object_type", "object_id")

    def has_output(self) -> bool:
        return bool(self.raw)

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        object_type = self.raw.get("object_type", "")
        object_id = self.raw.get("object_id")
        if object_id is None:
            return queryset.filter(object_type=object_type)
        return queryset.filter(timeline_q(object_type, object_id))

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        yield {
            "kind": describe.kind_name(self.raw.get("object_type", "")),
            "object_id": self.raw.get("object_id", ""),
            "clear": changelist.get_query_string(remove=list(self.parameters)),
        }


def is_timeline(request: HttpRequest) -> bool:
    return bool(request.GET.get("object_id") or request.GET.get("actor__id__exact"))
