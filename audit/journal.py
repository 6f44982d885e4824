"""The audit events of API token use, pushed to a journal in Redis and chained in batches.

Every Invoke API and chat completions call records that its token was used
(recorder.record_pending). Written to the database, that was a transaction of its own per call,
then read back, chained and deleted by recorder.chain_pending: together about a tenth of the
API's CPU in a profile. Through the journal the call pushes one entry (config.journal says what
a journal guarantees), and a drain chains a whole batch at once, under one lock on the chain's
head, straight into the trail.

Exactly once: each event keeps its entry's journal id (AuditEvent.journal_id, unique); a drain
repeated after its commit finds the ids already chained and skips them before it hashes
anything, so the chain has no gap and no event twice. Every reader of the trail settles the
journal first (recorder.chain_pending).

Redis unreachable, SQLite, a caller's transaction, AUDIT_DURABLE_TOKEN_USE or
AUDIT_JOURNAL=false: the event is written as a pending event, as before.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DataError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from audit import stream
from audit.models import AuditEvent, ChainHead, PendingEvent
from config.journal import Journal, dumps, journal_id

# An entry: a JSON array of the journal id, then the fields a pending event stores (what
# recorder.record_pending takes down), in the model's order.
FIELDS = tuple(f.attname for f in PendingEvent._meta.concrete_fields if not f.primary_key)


def entry(fields: dict[str, Any]) -> str:
    """The entry of a pending event's fields, its time with every microsecond (DjangoJSONEncoder
    would keep milliseconds), without NUL characters (config.journal.dumps)."""
    values = [fields[name] for name in FIELDS]
    values[FIELDS.index("created")] = fields["created"].isoformat()
    return dumps([journal_id(), *values], cls=DjangoJSONEncoder)


# The chained events' columns: the entry's fields, then the chain's, with their PostgreSQL
# types (text where not named). Built from the model's names, never from input; the values are
# bound as one JSON array of arrays.
_TYPES = {"created": "timestamptz", "ip": "inet", "changes": "jsonb", "journal_id": "uuid"}
_INSERTED = tuple(
    (name, _TYPES.get(name, "text")) for name in (*FIELDS, "prev_hash", "hash", "journal_id")
)
# One statement for the batch (the ORM's bulk insert cost half the drain's time in a profile);
# ids are returned in the batch's order, which is the chain's.
INSERT = (
    f"INSERT INTO {AuditEvent._meta.db_table} "  # noqa: S608  # nosec B608
    f"({', '.join(name for name, _ in _INSERTED)}) SELECT "
    + ", ".join(
        f"v->{i}" if kind == "jsonb" else f"(v->>{i})::{kind}"
        for i, (_, kind) in enumerate(_INSERTED)
    )
    + " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(v, n) ORDER BY n RETURNING id"
)


def _row(event: AuditEvent) -> list[Any]:
    return [
        event.created.isoformat() if name == "created" else getattr(event, name)
        for name, _ in _INSERTED
    ]


def _event(raw: bytes) -> AuditEvent:
    try:
        values = json.loads(raw)
        event = AuditEvent(**dict(zip(FIELDS, values[1:], strict=True)))
        event.journal_id = uuid.UUID(values[0])
        event.created = datetime.fromisoformat(values[1])
    except (ValueError, TypeError, IndexError) as e:
        raise DataError(f"not an audit journal entry: {e}") from e
    return event


def _commit(entries: list[bytes]) -> int:
    events = [_event(e) for e in entries]
    with transaction.atomic():
        head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
        # Under the chain's lock: no other drain chains these ids in between.
        chained = set(
            AuditEvent.objects.filter(journal_id__in=[e.journal_id for e in events]).values_list(
                "journal_id", flat=True
            )
        )
        prev, new = head.last_hash, []
        for event in events:
            if event.journal_id in chained:
                continue
            chained.add(event.journal_id)
            event.prev_hash = prev
            event.hash = prev = event.compute_hash()
            new.append(event)
        if not new:
            return 0
        # Under the chain's lock, so ids follow the chain's order.
        rows = json.dumps([_row(e) for e in new], cls=DjangoJSONEncoder)
        with connection.cursor() as cursor:
            cursor.execute(INSERT, [rows])
            for event, (pk,) in zip(new, cursor.fetchall(), strict=True):
                event.pk = pk
        head.last_hash = prev
        head.save(update_fields=["last_hash"])
        stream.publish(new)
    return len(new)


journal = Journal(
    "audit",
    _commit,
    enabled=lambda: settings.AUDIT_JOURNAL,
    durable=lambda: settings.AUDIT_DURABLE_TOKEN_USE,
    batch=lambda: 500,
    window=lambda: settings.AUDIT_CHAIN_INTERVAL,
    idle=lambda: settings.USAGE_JOURNAL_IDLE_SECONDS,
)


usable = journal.usable


def push(fields: dict[str, Any], db: BaseDatabaseWrapper) -> bool:
    """Put an event in the journal; False when Redis cannot take it (then write it pending)."""
    return journal.push(entry(fields), db)
