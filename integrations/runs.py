"""The life of a test row that the worker runs: queued, claimed once, ended exactly once, or reaped.

Connection tests and prompt tests share it. Each model lists its RUNNING and TERMINAL statuses;
queued and failed are spelled the same in both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from audit import recorder
from config import cache as shared_cache

if TYPE_CHECKING:
    from integrations.models import TestRun

log = logging.getLogger(__name__)

Action = recorder.Action

QUEUED = "queued"
FAILED = "failed"

# finish(test_id, status, **fields) -> whether this call ended the test
Finish = Callable[..., bool]


class QueueUnavailable(Exception):
    """The broker cannot take the task: nothing was stored, or the test was ended as failed."""


def enqueue(test: TestRun, task: Any, finish: Finish) -> None:
    """Save the queued test and hand its primary key to the worker once the row is committed.

    Only the primary key travels: secrets never enter the broker. The audit trail records the
    start in the same transaction. While Redis is known to be unreachable this answers at once
    and stores nothing; if the broker refuses the task after the row was saved, the row is
    ended as failed with the reason.
    """
    if not shared_cache.available():
        raise QueueUnavailable
    with transaction.atomic():
        test.save()
        recorder.record(Action.TEST_STARTED, *test.audit_subject(), user=test.created_by)
    try:
        task.delay_on_commit(test.pk)
    except Exception as e:
        log.warning("queueing test %s failed: %s", test.pk, type(e).__name__)
        finish(
            test.pk,
            FAILED,
            failed_step="queue",
            error_code="QueueUnavailable",
            error_message="The task queue is unavailable, so the test could not start.",
            hint="Try again in a moment. If it recurs, check that the broker (Redis) is running.",
        )
        raise QueueUnavailable from e


def claim(model: type[Any], test_id: int, running_status: str) -> bool:
    """Take a queued test for this worker; False if another worker has it or it has ended.

    A test that a dead worker left running past its deadline may be taken again.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CONNECTION_TEST_DEADLINE)
    return bool(
        model.objects.filter(pk=test_id)
        .filter(Q(status=QUEUED) | Q(status__in=model.RUNNING, started__lt=stale))
        .update(status=running_status, started=now, attempts=F("attempts") + 1)
    )


def finish(model: type[Any], test_id: int, status: str, **fields: Any) -> bool:
    """End a test exactly once: a row that already ended is left as it is.

    The outcome is recorded in the audit trail in the same transaction.
    """
    with transaction.atomic():
        ended = bool(
            model.objects.filter(pk=test_id)
            .exclude(status__in=model.TERMINAL)
            .update(status=status, finished=timezone.now(), **fields)
        )
        if ended:
            test = model._base_manager.select_related("created_by").get(pk=test_id)
            recorder.record(Action.TEST_FINISHED, *test.audit_subject(), user=test.created_by)
    return ended


def reap(tests: models.QuerySet[Any], finish: Finish) -> int:
    """Fail the tests whose worker died (running past the deadline) or that no worker took."""
    now = timezone.now()
    running_deadline = now - timedelta(seconds=settings.CONNECTION_TEST_DEADLINE)
    queued_deadline = now - timedelta(seconds=settings.CONNECTION_TEST_QUEUE_DEADLINE)
    lost = tests.filter(status__in=tests.model.RUNNING, started__lt=running_deadline)
    unclaimed = tests.filter(status=QUEUED, created__lt=queued_deadline)
    reaped = 0
    for pk in lost.values_list("pk", flat=True):
        reaped += finish(
            pk,
            FAILED,
            failed_step="worker",
            error_code="WorkerLost",
            error_message=(
                "The worker stopped before it finished this test (it was restarted or killed)."
            ),
            hint="Run the test again.",
        )
    for pk in unclaimed.values_list("pk", flat=True):
        reaped += finish(
            pk,
            FAILED,
            failed_step="queue",
            error_code="NotPickedUp",
            error_message="No worker picked up this test in time.",
            hint="Check that the Celery worker is running (celery -A config worker).",
        )
    return reaped
