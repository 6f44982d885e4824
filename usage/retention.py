"""Retention: call records older than USAGE_RETENTION_DAYS and rollups (hourly and daily) older
than USAGE_ROLLUP_RETENTION_DAYS are deleted, in batches so that no statement holds locks long.
Kept bodies are cleared once their prompt's days are over. Run hourly by Celery beat."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Model, QuerySet
from django.utils import timezone

from usage.models import CallRecord, DailyRollup, HourlyRollup, MinuteCounter

BATCH = 5000


def _delete_in_batches(qs: QuerySet[Model], batch: int) -> int:
    deleted = 0
    while True:
        ids = list(qs.values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += qs.model._default_manager.filter(pk__in=ids).delete()[0]


def apply(batch: int = BATCH) -> dict[str, int]:
    now = timezone.now()
    records = _delete_in_batches(
        CallRecord.objects.filter(created__lt=now - timedelta(days=settings.USAGE_RETENTION_DAYS)),
        batch,
    )
    rollups_until = now - timedelta(days=settings.USAGE_ROLLUP_RETENTION_DAYS)
    rollups = _delete_in_batches(
        HourlyRollup.objects.filter(hour__lt=rollups_until), batch
    ) + _delete_in_batches(DailyRollup.objects.filter(day__lt=rollups_until), batch)
    bodies = CallRecord.objects.filter(bodies_until__lt=now).update(
        request_body="", response_body="", bodies_until=None
    )
    minute = int(now.timestamp() // 60)
    counters = MinuteCounter.objects.filter(minute__lt=minute - 5).delete()[0]
    return {"records": records, "rollups": rollups, "bodies": bodies, "counters": counters}
