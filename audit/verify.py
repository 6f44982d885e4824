"""Verifying the chain, and keeping what the last verification found where reviewers see it.

check() walks the whole chain (events in id order, each hash recomputed and linked to the one
before) and stores the result in ChainState; the periodic task (audit.tasks) runs it, and an
Administrator can ask for it again from the audit list. A broken chain is cached as a flag so
that every console page can alert Administrators without a query.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from audit import archive
from audit.models import GENESIS, AuditEvent, ChainHead, ChainState

BROKEN_CACHE_KEY = "audit:chain-state"


@dataclass
class Outcome:
    checked: int
    last: AuditEvent | None  # the last intact event
    broken: AuditEvent | None  # the first event that does not verify
    why: str  # empty when the chain is intact


def verify_chain(start_hash: str = GENESIS) -> Outcome:
    """Walk the chain from its start, or from the latest archive checkpoint (pending events are
    chained first)."""
    from audit.recorder import chain_pending

    chain_pending()
    expected_prev = start_hash
    checkpoint = archive.latest_checkpoint()
    if checkpoint is not None:
        # Older events were archived: the chain continues from the signed checkpoint.
        if not archive.signature_valid(checkpoint):
            return Outcome(0, None, None, "the checkpoint of archived events is not validly signed")
        expected_prev = checkpoint.last_hash
    checked = 0
    last = None
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != expected_prev:
            return Outcome(
                checked,
                last,
                event,
                "its previous hash is not the hash of the event before it "
                "(an event before it was removed or changed)",
            )
        if event.compute_hash() != event.hash:
            return Outcome(
                checked, last, event, "its content does not match its hash (it was changed)"
            )
        expected_prev = event.hash
        checked += 1
        last = event
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and checked and head.last_hash != expected_prev:
        return Outcome(
            checked, last, None, "the chain head does not match the last event (events removed)"
        )
    return Outcome(checked, last, None, "")


def describe_event(event: AuditEvent) -> str:
    what = event.object_repr or event.object_type or "nothing"
    return (
        f"event #{event.pk} ({event.get_action_display()} of {what} "
        f"at {event.created:%Y-%m-%d %H:%M:%S} UTC)"
    )


def check() -> ChainState:
    """Verify the whole chain now and store what was found."""
    outcome = verify_chain()
    values = {
        "checked_at": timezone.now(),
        "events_checked": outcome.checked,
        "last_event_id": outcome.last.pk if outcome.last else None,
        "last_event_at": outcome.last.created if outcome.last else None,
        "broken_event_id": outcome.broken.pk if outcome.broken else None,
        "broken_event": describe_event(outcome.broken)[:500] if outcome.broken else "",
        "problem": outcome.why[:500],
        "requested_at": None,
    }
    with transaction.atomic():
        state, _ = ChainState.objects.update_or_create(pk=1, defaults=values)
    remember(state)
    return state


def state() -> ChainState:
    return ChainState.objects.filter(pk=1).first() or ChainState(pk=1)


def remember(state: ChainState) -> None:
    cache.set(BROKEN_CACHE_KEY, {"broken": state.is_broken, "event": state.broken_event_id}, None)


def broken_alert() -> dict | None:
    """{"event": id} when the last verification found the chain broken, else None.

    From the cache (no query on console pages); read once from the database when the cache
    lost it."""
    known = cache.get(BROKEN_CACHE_KEY)
    if known is None:
        current = state()
        remember(current)
        known = {"broken": current.is_broken, "event": current.broken_event_id}
    return known if known.get("broken") else None


class CheckNotStarted(Exception):
    """The task queue could not be reached: the re-check did not start."""


def request_check() -> ChainState:
    """An Administrator asked for a re-check: noted here, run by a worker (audit.tasks)."""
    from config.celery import app

    current, _ = ChainState.objects.get_or_create(pk=1)
    try:
        app.send_task("audit.tasks.verify_audit_chain")
    except Exception as exc:  # kombu's OperationalError and friends: the broker is away
        raise CheckNotStarted(str(exc)) from exc
    current.requested_at = timezone.now()
    current.save(update_fields=["requested_at"])
    return current
