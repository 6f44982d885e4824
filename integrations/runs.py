"""The life of a test row that the worker runs: queued, claimed once, ended exactly once, or reaped.

Connection tests and prompt tests share it. Each model lists its RUNNING and TERMINAL statuses;
queued and failed are spelled the same in both.

A worker writes a heartbeat on the rows it is running every TEST_HEARTBEAT_SECONDS. A running
test whose heartbeat is older than TEST_LOST_AFTER_SECONDS lost its worker (killed, out of
memory, host gone): it is failed with "The worker stopped ..." by the first of any live worker
(each one looks every TEST_HEARTBEAT_SECONDS), a status page that shows it, or the beat reaper.
It is never run again: a message that the broker hands out again finds the row ended.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from audit import recorder
from config import cache as shared_cache
from config import live
from config.reread import Reread, update_and_read

if TYPE_CHECKING:
    from integrations.models import TestRun

log = logging.getLogger(__name__)

Action = recorder.Action

QUEUED = "queued"
FAILED = "failed"

# finish(test_id, status, **fields) -> whether this call ended the test
Finish = Callable[..., bool]

WORKER_LOST_MESSAGE = (
    "The worker stopped before it finished this test (it was restarted or killed)."
)


class QueueUnavailable(Exception):
    """The broker cannot take the task: nothing was stored, or the test was ended as failed."""


# Test models and how each ends a test, registered by the services that own them.
_models: dict[type[Any], Finish] = {}
# The task that runs each model's tests, registered by the tasks modules (loaded by the apps'
# ready()), so that services enqueue without importing their tasks back.
_tasks: dict[type[Any], Any] = {}


def register(model: type[Any], finish: Finish) -> None:
    _models[model] = finish


def register_task(model: type[Any], task: Any) -> None:
    _tasks[model] = task


def enqueue(test: TestRun, finish: Finish) -> None:
    """Save the queued test and hand its primary key to the worker once the row is committed.

    Only the primary key travels: secrets never enter the broker. The audit trail records the
    start in the same transaction. While Redis is known to be unreachable this answers at once
    and stores nothing; if the broker refuses the task after the row was saved, the row is
    ended as failed with the reason.
    """
    task = _tasks[type(test)]
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


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def claim(model: type[Any], test_id: int, running_status: str, **fields: Any) -> bool:
    """Take a queued test for this worker; False if another worker has it or it has ended.

    `fields` are written in the same UPDATE (what is already known of the running step)."""
    now = timezone.now()
    claimed = bool(
        model.objects.filter(pk=test_id, status=QUEUED).update(
            status=running_status,
            started=now,
            heartbeat=now,
            worker=worker_name(),
            attempts=F("attempts") + 1,
            **fields,
        )
    )
    if claimed:
        heartbeats.track(model, test_id)
        live.changed(model, test_id)
    return claimed


def finish(model: type[Any], test_id: int, status: str, **fields: Any) -> bool:
    """End a test exactly once: a row that already ended is left as it is.

    The outcome is recorded in the audit trail in the same transaction.
    """
    return end(model, test_id, status, **fields) is not None


def end(
    model: type[Any], test_id: int, status: str, *, savepoint: bool = True, **fields: Any
) -> Any | None:
    """finish(), giving the ended row as stored (with model.ENDED_WITH), or None if it had
    ended already.

    A caller whose own transaction fails as a whole with the end (a connection test also
    notes the outcome on its integration) passes savepoint=False: two round trips fewer on
    the way from the model's answer to the page."""
    heartbeats.untrack(model, test_id)
    with transaction.atomic(savepoint=savepoint):
        # The row is ended and read back (with what its audit event names) in one statement.
        test = update_and_read(
            model.objects.filter(pk=test_id).exclude(status__in=model.TERMINAL),
            {"status": status, "finished": timezone.now(), **fields},
            _ended_reader(model),
        )
        if test is None:
            return None
        recorder.record(Action.TEST_FINISHED, *test.audit_subject(), user=test.created_by)
        live.changed(model, test_id)
    return test


_ended_readers: dict[type[Any], Reread] = {}


def _ended_reader(model: type[Any]) -> Reread:
    """How an ended test is read back: with what its audit event names (built once)."""
    reader = _ended_readers.get(model)
    if reader is None:
        reader = _ended_readers[model] = Reread(
            model._base_manager.select_related(*model.ENDED_WITH)
        )
    return reader


def reap(tests: models.QuerySet[Any], finish: Finish) -> int:
    """Fail the tests whose worker stopped, that ran past the deadline, or that no worker took."""
    now = timezone.now()
    silent = now - timedelta(seconds=settings.TEST_LOST_AFTER_SECONDS)
    running_deadline = now - timedelta(seconds=settings.CONNECTION_TEST_DEADLINE)
    queued_deadline = now - timedelta(seconds=settings.CONNECTION_TEST_QUEUE_DEADLINE)
    running = tests.filter(status__in=tests.model.RUNNING)
    lost = running.filter(
        Q(heartbeat__lt=silent) | Q(heartbeat__isnull=True, started__lt=silent)
    ).values_list("pk", flat=True)
    overdue = running.filter(started__lt=running_deadline).values_list("pk", flat=True)
    unclaimed = tests.filter(status=QUEUED, created__lt=queued_deadline)
    reaped = 0
    for pk in lost:
        reaped += finish(
            pk,
            FAILED,
            failed_step="worker",
            error_code="WorkerLost",
            error_message=WORKER_LOST_MESSAGE,
            hint="Run the test again.",
        )
    for pk in overdue:
        reaped += finish(
            pk,
            FAILED,
            failed_step="worker",
            error_code="WorkerLost",
            error_message=(
                f"The test did not finish within {settings.CONNECTION_TEST_DEADLINE} s."
            ),
            hint="Run the test again. If it recurs, check the worker's log.",
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


def reap_all() -> int:
    """Reap every registered kind of test."""
    return sum(reap(model.objects.all(), finish) for model, finish in _models.items())


class Heartbeats:
    """One thread per worker process: beats for the tests it runs, and reaps lost ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[type[Any], set[int]] = {}
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stop = threading.Event()

    def track(self, model: type[Any], test_id: int) -> None:
        with self._lock:
            self._running.setdefault(model, set()).add(test_id)
        self.start()

    def untrack(self, model: type[Any], test_id: int) -> None:
        with self._lock:
            self._running.get(model, set()).discard(test_id)

    def start(self) -> None:
        """Start the thread in this process (again after a fork); idempotent."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="test-heartbeats", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def beat(self) -> None:
        now = timezone.now()
        with self._lock:
            running = {model: list(ids) for model, ids in self._running.items() if ids}
        for model, ids in running.items():
            model.objects.filter(pk__in=ids, status__in=model.RUNNING).update(heartbeat=now)

    def _run(self) -> None:
        while not self._stop.wait(settings.TEST_HEARTBEAT_SECONDS):
            try:
                self.beat()
                reap_all()
            except DatabaseError as e:
                log.warning("test heartbeat failed: %s", e)
            except Exception:
                log.exception("test heartbeat failed")
            finally:
                # Give the connection back (to the pool) between beats.
                connection.close()


heartbeats = Heartbeats()
