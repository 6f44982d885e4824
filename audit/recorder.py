"""Writing audit events: who (from the request or the test's owner), what, and a masked diff.

The code that changes something calls this module itself, in the transaction of the change:
`record_create(obj)` after a create, `before = snapshot(obj)` then `record_update(obj, before)`
around an update, `record_delete(obj)` before a delete, `record_related(...)` around a change of
many-to-many links (roles, a token's scope), and `record(Action.X, obj, {...})` for named actions
(publish, rollback, tests, logins, key rotation). Nothing is recorded behind the code's back: no
model method is replaced and no model signal writes an event.

Every event is appended under a lock on the chain head, inside the caller's transaction when
there is one: the change and its event commit together or not at all.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, models, transaction
from django.db.models import sql
from django.utils import timezone
from django.utils.crypto import salted_hmac

from audit import journal, stream
from audit.models import MASK, AuditEvent, ChainHead, PendingEvent

logger = logging.getLogger(__name__)

Action = AuditEvent.Action


# Fields whose changes are bookkeeping, not edits (written by tests finishing, logins, API use).
IGNORED_FIELDS = frozenset(
    {
        "updated",
        "created",
        "last_login",
        "last_test",
        "last_success_at",
        "last_failure_at",
        "last_failure_reason",
        "last_used_at",
    }
)


@dataclass(frozen=True)
class Context:
    user: Any = None
    ip: str | None = None
    user_agent: str = ""


_context: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "audit_context", default=None
)


def set_context(ctx: Context | None) -> contextvars.Token:
    return _context.set(ctx)


def reset_context(token: contextvars.Token) -> None:
    _context.reset(token)


def context_from_request(request: Any) -> Context:
    ip = request.META.get("REMOTE_ADDR") or None
    return Context(
        user=getattr(request, "user", None),
        ip=ip,
        # PostgreSQL text cannot hold NUL: a header that carries one is kept with it escaped.
        user_agent=(request.META.get("HTTP_USER_AGENT") or "")[:500].replace("\x00", "\\x00"),
    )


def label(obj_or_model: Any) -> str:
    return obj_or_model._meta.label_lower


# --- masking ------------------------------------------------------------------------------


def _mask_headers(rows: Any) -> Any:
    if not isinstance(rows, list):
        return rows
    shown = []
    for r in rows:
        if isinstance(r, dict) and r.get("secret"):
            shown.append({"name": r.get("name", ""), "secret": True, "value": MASK})
        else:
            shown.append(r)
    return shown


def _mask(value: Any) -> str:
    # A keyed tag lets a diff tell that the secret changed, without saying anything about it.
    tag = salted_hmac("audit.mask", str(value), algorithm="sha256").hexdigest()[:12]
    return f"{MASK} {tag}" if value else ""


# Per model: fields that hold secrets, and how they appear in the trail.
SECRET_FIELDS: dict[str, dict[str, Any]] = {
    "integrations.bedrockmodel": {"headers": _mask_headers},
    "integrations.connectiontest": {"headers": _mask_headers},
    "prompts_library.apitoken": {"token_hash": _mask},
    "auth.user": {"password": _mask},
}


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The instance's concrete fields as JSON values, secrets masked."""
    maskers = SECRET_FIELDS.get(label(instance), {})
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in IGNORED_FIELDS:
            continue
        value = field.value_from_object(instance)
        if field.name in maskers:
            value = maskers[field.name](value)
        data[field.name] = value
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _untag(value: Any) -> Any:
    return MASK if isinstance(value, str) and value.startswith(MASK) else value


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, list[Any]]:
    before, after = before or {}, after or {}
    changed = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            # A new password or token: say that it changed, never what it is (nor its tag).
            changed[key] = [_untag(old), _untag(new)]
    return changed


def related(instance: models.Model, fields: tuple[str, ...]) -> dict[str, list[str]]:
    """The instance's many-to-many links, by name, for record_related (one query per field)."""
    if instance.pk is None:
        return {name: [] for name in fields}
    links = {}
    for name in fields:
        rows = getattr(instance, name).all()
        if any(f.name == "content_type" for f in rows.model._meta.fields):
            rows = rows.select_related("content_type")
        links[name] = sorted(_name(o) for o in rows)
    return links


def _name(obj: Any) -> str:
    # A permission by its app label and codename (what roles and has_perm() use).
    codename = getattr(obj, "codename", None)
    if codename is not None and hasattr(obj, "content_type"):
        return f"{obj.content_type.app_label}.{codename}"
    return str(obj)


# --- what changed -------------------------------------------------------------------------


def record_create(
    obj: models.Model, *, links: tuple[str, ...] = (), user: Any = None
) -> AuditEvent:
    """After obj was created: an event holding all its (masked) values, and the many-to-many
    links named in `links` (already set)."""
    return record(Action.CREATE, obj, diff(None, snapshot(obj) | related(obj, links)), user=user)


def record_update(
    obj: models.Model, before: dict[str, Any], *, user: Any = None
) -> AuditEvent | None:
    """After obj was changed, given snapshot(obj) from before the change: the fields that
    changed, or nothing at all when only bookkeeping fields did."""
    changes = diff(before, snapshot(obj))
    if not changes:
        return None
    return record(Action.UPDATE, obj, changes, user=user)


def record_saved(
    obj: models.Model, before: dict[str, Any] | None, *, user: Any = None
) -> AuditEvent | None:
    """record_create when there was nothing before, else record_update."""
    if before is None:
        return record_create(obj, user=user)
    return record_update(obj, before, user=user)


def record_delete(obj: models.Model, *, user: Any = None) -> AuditEvent:
    """Before obj is deleted (it still has its primary key), in the delete's transaction."""
    return record(Action.DELETE, obj, diff(snapshot(obj), None), user=user)


def record_related(
    obj: models.Model,
    before: dict[str, list[str]],
    after: dict[str, list[str]],
    action: str = Action.UPDATE,
    *,
    user: Any = None,
) -> AuditEvent | None:
    """Given related() before and after a change of links: {"groups": {"add": [...], ...}}."""
    changes: dict[str, dict[str, list[str]]] = {}
    for name in sorted(set(before) | set(after)):
        old, new = set(before.get(name, ())), set(after.get(name, ()))
        verbs = {"add": sorted(new - old), "remove": sorted(old - new)}
        if any(verbs.values()):
            changes[name] = {verb: names for verb, names in verbs.items() if names}
    if not changes:
        return None
    return record(action, obj, changes, user=user)


# --- writing ------------------------------------------------------------------------------


def _actor(user: Any) -> tuple[Any, str]:
    if user is not None and getattr(user, "is_authenticated", False):
        return user, user.get_username()
    return None, ""


def record(
    action: str,
    obj: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    *,
    user: Any = None,
    object_type: str = "",
    object_id: Any = "",
    object_repr: str = "",
) -> AuditEvent:
    ctx = _context.get() or Context()
    actor, actor_repr = _actor(user if user is not None else ctx.user)
    if obj is not None:
        object_type = object_type or label(obj)
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    event = AuditEvent(
        actor=actor,
        actor_repr=actor_repr,
        **_event_fields(ctx, action, object_type, object_id, object_repr, changes),
    )
    return append(event)


def _event_fields(
    ctx: Context,
    action: str,
    object_type: str,
    object_id: Any,
    object_repr: Any,
    changes: dict[str, Any] | None,
) -> dict[str, Any]:
    """What an event and a pending event both store about the request and the object."""
    return {
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
        "action": action,
        "object_type": object_type,
        "object_id": "" if object_id is None else str(object_id),
        "object_repr": str(object_repr)[:300],
        "changes": json.loads(json.dumps(changes or {}, cls=DjangoJSONEncoder)),
    }


def append(event: AuditEvent) -> AuditEvent:
    # Inside the caller's transaction no savepoint of its own (two round trips fewer on every
    # change and every test): a failure here fails the caller's transaction as a whole, which
    # is what the change must do anyway, since it never commits without its event.
    with transaction.atomic(savepoint=False):
        connection = transaction.get_connection()
        if connection.vendor == "postgresql":
            _append_in_two_statements(event, connection)
        else:
            head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
            _chain_to(event, head.last_hash)
            event.save()
            head.last_hash = event.hash
            head.save(update_fields=["last_hash"])
        stream.publish([event])
    return event


def _chain_to(event: AuditEvent, prev_hash: str) -> None:
    # Microseconds are kept by both SQLite and PostgreSQL, so the hash survives a reload.
    event.created = timezone.now()
    event.prev_hash = prev_hash
    event.hash = event.compute_hash()


_HEAD = ChainHead._meta.db_table
_LOCK_HEAD = f"SELECT last_hash FROM {_HEAD} WHERE id = 1 FOR UPDATE"  # noqa: S608  # nosec B608
_MOVE_HEAD = f"WITH moved AS (UPDATE {_HEAD} SET last_hash = %s WHERE id = 1) "  # noqa: S608  # nosec B608


def _append_in_two_statements(event: AuditEvent, connection: Any) -> None:
    """Lock the chain head and read its hash; then insert the event and move the head to its
    hash in one statement: two round trips where the ORM takes three, on every change and
    every test, and none of the ORM's building of a get_or_create.

    The INSERT is Django's own for the event (its fields prepared as save() prepares them);
    the head's UPDATE rides along as a data-modifying WITH, which PostgreSQL runs exactly
    once, in the same statement, whether or not anything reads it."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_HEAD)
        found = cursor.fetchone()
    if found is None:  # a migration makes the head; a database emptied since has none
        head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
        found = (head.last_hash,)
    _chain_to(event, found[0])
    fields = [f for f in AuditEvent._meta.local_concrete_fields if not f.primary_key]
    query = sql.InsertQuery(AuditEvent)
    query.insert_values(fields, [event])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [AuditEvent._meta.pk]
    [(insert, params)] = compiler.as_sql()
    with connection.cursor() as cursor:
        cursor.execute(_MOVE_HEAD + insert, [event.hash, *params])
        (event.pk,) = cursor.fetchone()
    event._state.adding = False
    event._state.db = connection.alias


def record_pending(
    action: str,
    *,
    object_type: str = "",
    object_id: Any = "",
    object_repr: str = "",
    changes: dict[str, Any] | None = None,
) -> None:
    """Record an event without the chain's lock: one INSERT, committed with the caller.

    For hot paths (API token use), where one lock for every request would serialise them.
    The event joins the chain, in order, at the next chain_pending (at most
    settings.AUDIT_CHAIN_INTERVAL later while requests keep coming, or when the trail is read).

    During a request (AuditContextMiddleware), the event is taken down now (its time, who, what)
    and written by `write_deferred`: at the latest when the view has answered, before the answer
    leaves; earlier where the view has time to spare, such as while a model call runs on another
    thread. Outside a request it is written at once.

    On PostgreSQL with Redis, outside a caller's transaction, the event is pushed to the audit
    journal (audit.journal) and chained from there in batches. Otherwise, outside a caller's
    transaction on PostgreSQL, the INSERT is its own transaction committed without waiting for
    the disk (asynchronous commit, one message to the server), like the
    call's usage record: the event is visible to everyone at once and on disk within a fraction
    of a second; only a crash of the database server in that moment loses it, never a web process
    that dies after answering. Waiting for the disk costs an fsync per API call (0.4 ms on the
    latest benchmark machine, 4 ms on an earlier one's disk); AUDIT_DURABLE_TOKEN_USE=true pays it.
    """
    ctx = _context.get() or Context()
    _, actor_repr = _actor(ctx.user)
    fields = {
        "created": timezone.now(),
        "actor_repr": actor_repr,
        **_event_fields(ctx, action, object_type, object_id, object_repr, changes),
    }
    deferred = _deferred.get()
    if deferred is not None:
        deferred.append(fields)
        return
    _write_pending([fields])


_deferred: contextvars.ContextVar[list[dict[str, Any]] | None] = contextvars.ContextVar(
    "audit_deferred", default=None
)


def defer_pending() -> contextvars.Token:
    """From here on (this request), pending events wait for write_deferred()."""
    return _deferred.set([])


def stop_deferring(token: contextvars.Token) -> None:
    _deferred.reset(token)


def write_deferred() -> None:
    """Write the pending events taken down so far in this request, in order."""
    deferred = _deferred.get()
    if deferred:
        events = deferred[:]
        deferred.clear()
        _write_pending(events)


def _write_pending(events: list[dict[str, Any]]) -> None:
    connection = transaction.get_connection()
    if journal.usable(connection):
        # Chained from the journal by its drain; what Redis could not take is written below.
        events = [fields for fields in events if not journal.push(fields, connection)]
        if not events:
            return
    if (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and not settings.AUDIT_DURABLE_TOKEN_USE
    ):
        for fields in events:
            _insert_unflushed(connection, fields)
    else:
        PendingEvent.objects.bulk_create([PendingEvent(**fields) for fields in events])
    _maybe_chain()


_PENDING_FIELDS = tuple(f for f in PendingEvent._meta.concrete_fields if not f.primary_key)
# One message: PostgreSQL runs it as one transaction, committed without waiting for the disk.
# Names and placeholders only, from the model; the values are bound by the driver.
_PENDING_NAMES = ", ".join(str(f.column) for f in _PENDING_FIELDS)
_PENDING_VALUES = ", ".join(
    "%s::jsonb" if isinstance(f, models.JSONField) else "%s" for f in _PENDING_FIELDS
)
_INSERT_UNFLUSHED = (
    "BEGIN; SET LOCAL synchronous_commit = off; "  # noqa: S608  # nosec B608
    f"INSERT INTO {PendingEvent._meta.db_table} ({_PENDING_NAMES}) VALUES ({_PENDING_VALUES}); "
    "COMMIT"
)


def _insert_unflushed(connection: Any, fields: dict[str, Any]) -> None:
    values = [
        json.dumps(fields[f.attname], cls=DjangoJSONEncoder)
        if isinstance(f, models.JSONField)
        else fields[f.attname]
        for f in _PENDING_FIELDS
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_UNFLUSHED, values)


_chain_lock = threading.Lock()
_last_chained = 0.0


def _maybe_chain() -> None:
    """Chain pending events from this process at most every AUDIT_CHAIN_INTERVAL seconds."""
    global _last_chained
    if time.monotonic() - _last_chained < settings.AUDIT_CHAIN_INTERVAL:
        return
    if transaction.get_connection().in_atomic_block:
        return  # the caller's transaction must not take the chain's lock on its behalf
    if not _chain_lock.acquire(blocking=False):
        return
    try:
        _last_chained = time.monotonic()
        chain_pending()
    except DatabaseError:
        # The pending events stay on record and are chained by the next call or reader.
        logger.warning("chaining pending audit events failed; will retry", exc_info=True)
    finally:
        _chain_lock.release()


def chain_pending(limit: int = 5000) -> int:
    """Move pending events into the chain, oldest first, under one lock. Returns how many.

    What every reader of the trail calls first: the events still in the audit journal are
    chained before (audit.journal), so that the trail holds every use made before."""
    journal.journal.settle()
    moved = 0
    # A read first: readers of the trail take the chain's lock only when there is work.
    if not PendingEvent.objects.exists():
        return 0
    while True:
        with transaction.atomic():
            head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
            pending = list(PendingEvent.objects.order_by("id")[:limit])
            if not pending:
                return moved
            prev = head.last_hash
            events = []
            for p in pending:
                event = AuditEvent(
                    created=p.created,
                    actor_repr=p.actor_repr,
                    ip=p.ip,
                    user_agent=p.user_agent,
                    action=p.action,
                    object_type=p.object_type,
                    object_id=p.object_id,
                    object_repr=p.object_repr,
                    changes=p.changes,
                    prev_hash=prev,
                )
                event.hash = event.compute_hash()
                prev = event.hash
                events.append(event)
            # Under the chain's lock, so ids follow the chain's order.
            AuditEvent.objects.bulk_create(events, batch_size=500)
            PendingEvent.objects.filter(pk__in=[p.pk for p in pending]).delete()
            head.last_hash = prev
            head.save(update_fields=["last_hash"])
            stream.publish(events)
        moved += len(pending)
        if len(pending) < limit:
            return moved
