"""Retention deletes only raw records past USAGE_RETENTION_DAYS and rollups past their own days."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.usage.helpers import report
from usage import retention
from usage.models import CallRecord, HourlyRollup, MinuteCounter

pytestmark = pytest.mark.django_db


def _record(age, **fields):
    return CallRecord.objects.create(
        created=timezone.now() - age, kind="invoke_api", ok=True, **fields
    )


def _rollup(age):
    hour = (timezone.now() - age).replace(minute=0, second=0, microsecond=0)
    return HourlyRollup.objects.create(hour=hour, kind="invoke_api", calls=1)


def test_it_deletes_only_what_is_older_than_the_settings(settings):
    settings.USAGE_RETENTION_DAYS = 30
    settings.USAGE_ROLLUP_RETENTION_DAYS = 400
    old = [_record(timedelta(days=31)) for _ in range(7)]
    kept = [_record(timedelta(days=29, hours=23)), _record(timedelta(hours=1))]
    report(integration_id=None)  # written now, by the observer
    old_rollup, kept_rollups = (
        _rollup(timedelta(days=401)),
        [_rollup(timedelta(days=31)), _rollup(timedelta(days=399))],
    )

    done = retention.apply(batch=3)  # several batches

    assert done["records"] == len(old) and done["rollups"] == 1
    remaining = set(CallRecord.objects.values_list("pk", flat=True))
    assert {r.pk for r in kept} <= remaining and not {r.pk for r in old} & remaining
    assert len(remaining) == 3
    assert not HourlyRollup.objects.filter(pk=old_rollup.pk).exists()
    # The charts' rollups outlive the raw records.
    assert HourlyRollup.objects.filter(pk__in=[r.pk for r in kept_rollups]).count() == 2


def test_a_shorter_setting_deletes_more(settings):
    settings.USAGE_RETENTION_DAYS = 1
    _record(timedelta(days=2))
    young = _record(timedelta(hours=2))
    assert retention.apply()["records"] == 1
    assert list(CallRecord.objects.values_list("pk", flat=True)) == [young.pk]


def test_kept_bodies_are_cleared_when_their_days_are_over():
    now = timezone.now()
    expired = _record(
        timedelta(hours=1),
        request_body="{}",
        response_body="{}",
        bodies_until=now - timedelta(minutes=1),
    )
    current = _record(
        timedelta(hours=1),
        request_body="{}",
        response_body="{}",
        bodies_until=now + timedelta(days=1),
    )
    assert retention.apply()["bodies"] == 1
    expired.refresh_from_db()
    current.refresh_from_db()
    assert (expired.request_body, expired.response_body, expired.bodies_until) == ("", "", None)
    assert current.request_body == "{}"


def test_old_minute_counters_go_too():
    minute = int(timezone.now().timestamp() // 60)
    MinuteCounter.objects.create(token_id=1, minute=minute - 60, requests=3)
    fresh = MinuteCounter.objects.create(token_id=1, minute=minute, requests=3)
    assert retention.apply()["counters"] == 1
    assert list(MinuteCounter.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_the_beat_schedule_runs_it(settings):
    from config.celery import app
    from usage.tasks import apply_retention

    entry = settings.CELERY_BEAT_SCHEDULE["usage-retention"]
    assert entry["task"] == apply_retention.name == "usage.tasks.apply_retention"
    assert apply_retention.name in app.tasks
