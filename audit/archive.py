"""Retention without breaking proof: old events go to a JSON Lines file, a signed checkpoint
stays.

archive(cutoff) writes the chain's oldest events (those before the first event at or after the
cutoff, so that what remains is one unbroken chain) to a file in AUDIT_ARCHIVE_DIR, each line in
audit.export's format, checking every hash and link as it goes; then, under the chain's lock, it
stores a Checkpoint (the last archived hash, signed with SECRET_KEY) and removes the archived
events. verify_chain starts from the latest checkpoint; verify_file checks an archive file against
its checkpoint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.dateparse import parse_datetime

from audit.export import json_line
from audit.models import GENESIS, AuditEvent, ChainHead, Checkpoint

SALT = "audit.checkpoint"
HASHED = (
    "actor_id",
    "actor_repr",
    "ip",
    "user_agent",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "prev_hash",
)


class ArchiveError(Exception):
    pass


def sign(checkpoint: Checkpoint, secret: str | None = None) -> str:
    return salted_hmac(
        SALT, checkpoint.signed_fields(), secret=secret, algorithm="sha256"
    ).hexdigest()


def signature_valid(checkpoint: Checkpoint) -> bool:
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(hmac.compare_digest(sign(checkpoint, s), checkpoint.signature) for s in secrets)


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-last_event_id").first()


def cutoff_for(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def archive(cutoff: dt.datetime, directory: Path | None = None) -> Checkpoint | None:
    """Archive and remove the events before cutoff; None when there are none."""
    from audit.recorder import chain_pending

    chain_pending()
    directory = Path(directory or settings.AUDIT_ARCHIVE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    keep_from = (
        AuditEvent.objects.filter(created__gte=cutoff).order_by("id").values_list("id", flat=True)
    ).first()
    old = AuditEvent.objects.order_by("id")
    if keep_from is not None:
        old = old.filter(id__lt=keep_from)
    first = old.first()
    if first is None:
        return None
    previous = latest_checkpoint()
    expected = previous.last_hash if previous is not None else GENESIS
    if first.prev_hash != expected:
        raise ArchiveError(f"event #{first.pk} does not follow the chain's start: not archived")
    partial = directory / f".audit-{first.pk}.partial"
    digest = hashlib.sha256()
    count, last = 0, None
    with partial.open("w", encoding="utf-8") as f:
        for event in old.iterator(chunk_size=2000):
            if event.prev_hash != expected or event.compute_hash() != event.hash:
                f.close()
                partial.unlink()
                raise ArchiveError(f"event #{event.pk} does not verify: nothing archived")
            line = json_line(event)
            f.write(line)
            digest.update(line.encode())
            expected, last, count = event.hash, event, count + 1
        f.flush()
        os.fsync(f.fileno())
    if last is None:
        raise RuntimeError("no events were archived")
    name = f"audit-{first.pk}-{last.pk}.jsonl"
    partial.replace(directory / name)
    checkpoint = Checkpoint(
        created=timezone.now(),
        first_event_id=first.pk,
        last_event_id=last.pk,
        last_event_at=last.created,
        events=count,
        previous_hash=first.prev_hash,
        last_hash=last.hash,
        archive_name=name,
        archive_sha256=digest.hexdigest(),
    )
    checkpoint.signature = sign(checkpoint)
    with transaction.atomic():
        ChainHead.objects.select_for_update().get_or_create(pk=1)
        checkpoint.save()
        AuditEvent.objects.filter(id__lte=last.pk).delete()
    return checkpoint


@dataclass
class FileCheck:
    events: int
    checkpoint: Checkpoint | None
    problem: str  # empty when the file matches its checkpoint


def event_from_line(line: dict) -> AuditEvent:
    event = AuditEvent(**{k: line[k] for k in HASHED})
    created = parse_datetime(line["created"])
    if created is None:
        raise ValueError("no time")
    event.created = created
    return event


def verify_file(path: Path) -> FileCheck:
    """Every line's hash and link, and the whole file against its signed checkpoint."""
    digest = hashlib.sha256()
    count, first, last_hash = 0, None, ""
    with Path(path).open("rb") as f:
        for number, raw in enumerate(f, start=1):
            digest.update(raw)
            try:
                line = json.loads(raw)
                event = event_from_line(line)
            except (ValueError, KeyError, TypeError):
                return FileCheck(count, None, f"line {number} is not an audit event")
            where = f"line {number} (event #{line.get('id')})"
            if first is None:
                first = line
            elif event.prev_hash != last_hash:
                return FileCheck(count, None, f"{where} does not follow the line before it")
            if event.compute_hash() != line.get("hash"):
                return FileCheck(count, None, f"{where} does not match its hash (it was changed)")
            last_hash, count = line["hash"], count + 1
    if first is None:
        return FileCheck(0, None, "the file holds no events")
    checkpoint = Checkpoint.objects.filter(last_hash=last_hash).first()
    if checkpoint is None:
        problem = "no checkpoint ends with its last event (another trail's archive, or cut short)"
        return FileCheck(count, None, problem)
    if not signature_valid(checkpoint):
        return FileCheck(count, checkpoint, "its checkpoint's signature is not valid")
    recorded = (checkpoint.first_event_id, checkpoint.events, checkpoint.previous_hash)
    if recorded != (first.get("id"), count, first["prev_hash"]):
        return FileCheck(count, checkpoint, "its events are not the ones its checkpoint recorded")
    if checkpoint.archive_sha256 != digest.hexdigest():
        return FileCheck(count, checkpoint, "its bytes differ from those archived")
    return FileCheck(count, checkpoint, "")
