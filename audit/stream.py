"""AUDIT_LOG_STREAM: each new event also written as one JSON line (audit.export's format) to
stdout or to a file, after its transaction commits, for log pipelines that tail it."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

from audit.models import AuditEvent

logger = logging.getLogger(__name__)
_lock = threading.Lock()


def publish(events: Iterable[AuditEvent]) -> None:
    """Write the events to the stream once the current transaction commits (never if it rolls
    back). The lines are made now, while the events are at hand."""
    target = settings.AUDIT_LOG_STREAM
    if not target:
        return
    from audit.export import json_line

    text = "".join(json_line(e) for e in events)
    transaction.on_commit(lambda: _write(target, text))


def _write(target: str, text: str) -> None:
    try:
        with _lock:
            if target == "stdout":
                sys.stdout.write(text)
                sys.stdout.flush()
            else:
                with open(target, "a", encoding="utf-8") as f:
                    f.write(text)
    except OSError:
        # The event is on record in the database; the stream is a copy for pipelines.
        logger.exception("could not write audit events to AUDIT_LOG_STREAM")
