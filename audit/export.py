"""The trail as log pipelines take it: JSON Lines and formula-safe CSV, streamed at any size.

One JSON line per event (the format is documented in README, "Audit trail", and kept stable by
tests/audit/test_export.py):

    {"id": 42, "created": "2026-11-30T10:15:02.123456+00:00", "actor_id": 1, "actor_repr": "alice",
     "ip": "203.0.113.9", "user_agent": "...", "action": "update", "kind": "Integration",
     "object_type": "integrations.bedrockmodel", "object_id": "7", "object_repr": "Acme / Haiku",
     "changes": {"name": ["Haiku", "Sonnet"]}, "prev_hash": "…", "hash": "…"}

Every field the hash covers is there under its own name, so a line can be verified on its own
(audit.archive does) and a pipeline can check the chain without the database.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse

from audit import describe
from audit.models import AuditEvent

FIELDS = (
    "id",
    "created",
    "actor_id",
    "actor_repr",
    "ip",
    "user_agent",
    "action",
    "kind",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "prev_hash",
    "hash",
)
CSV_FIELDS = tuple(f for f in FIELDS if f != "actor_id")
CHUNK = 2000

# Spreadsheets run cells that start with = + - @ (or tab, CR) as formulas, and some split cells
# on ; or | first: such cells are kept text with a leading apostrophe.
FORMULA_STARTS = frozenset("=+-@\t\r;|")


def record(event: AuditEvent) -> dict[str, Any]:
    """The event as one JSON object: what the hash covers, its id and hash, and its kind."""
    payload = event.payload()
    line = {name: payload.get(name) for name in FIELDS if name in payload}
    line.update(id=event.pk, kind=describe.kind_name(event.object_type), hash=event.hash)
    return {name: line.get(name) for name in FIELDS}


def json_line(event: AuditEvent) -> str:
    return json.dumps(record(event), ensure_ascii=False, cls=DjangoJSONEncoder) + "\n"


def safe_cell(value: Any) -> str:
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder)
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_FIELDS)
    for event in events:
        row = record(event)
        yield writer.writerow([safe_cell(row[name]) for name in CSV_FIELDS])


def json_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    for event in events:
        yield json_line(event)


FORMATS = {
    "csv": (csv_lines, "text/csv; charset=utf-8", "csv"),
    "jsonl": (json_lines, "application/jsonl; charset=utf-8", "jsonl"),
}


def response(queryset: Any, fmt: str) -> StreamingHttpResponse:
    """The events of queryset, oldest first, streamed (read CHUNK rows at a time)."""
    lines, content_type, extension = FORMATS[fmt]
    events = queryset.order_by("id").iterator(chunk_size=CHUNK)
    streamed = StreamingHttpResponse(lines(events), content_type=content_type)
    streamed["Content-Disposition"] = f'attachment; filename="audit-trail.{extension}"'
    streamed["Cache-Control"] = "no-store"
    return streamed
