"""The daily rollups the 30-day pages read hold exactly the sums of the same days' hourly rows."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db.models import Sum
from django.db.models.functions import TruncDay
from django.utils import timezone

from tests.integrations.fixtures import make_integration
from tests.usage.helpers import report
from usage import prices, recording, retention
from usage.models import ROLLUP_DIMENSIONS, ROLLUP_SUMS, CallRecord, DailyRollup, HourlyRollup

pytestmark = pytest.mark.django_db

SUMS = list(ROLLUP_SUMS)
KEY = list(ROLLUP_DIMENSIONS)


@pytest.fixture(autouse=True)
def _fresh_caches():
    prices.forget()
    yield
    prices.forget()


def _calls_at(monkeypatch, moments, **fields):
    for i, moment in enumerate(moments):
        monkeypatch.setattr(recording.timezone, "now", lambda m=moment: m)
        report(
            ok=i % 3 != 0,
            error_code="" if i % 3 else "ThrottlingException",
            total_ms=40 + 97 * i,
            input_tokens=10 + i,
            output_tokens=3 * i,
            **fields,
        )
    monkeypatch.undo()


def _days_from_hours():
    rows = (
        HourlyRollup.objects.annotate(day=TruncDay("hour"))
        .values("day", *KEY)
        .annotate(**{s: Sum(s) for s in SUMS})
        .order_by()
    )
    return {(r["day"], *(r[k] for k in KEY)): [r[s] for s in SUMS] for r in rows}


def _days():
    return {
        (r["day"], *(r[k] for k in KEY)): [r[s] for s in SUMS]
        for r in DailyRollup.objects.values("day", *KEY, *SUMS)
    }


def _moments():
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    # Both sides of two midnights, several hours of one day, and a day long ago.
    return [
        midnight - timedelta(days=3, seconds=1),
        midnight - timedelta(days=2, hours=23, minutes=59),
        midnight - timedelta(days=1, hours=5),
        midnight - timedelta(days=1, hours=5),
        midnight - timedelta(hours=2),
        midnight + timedelta(minutes=1),
        midnight - timedelta(days=40),
    ]


def test_each_call_adds_to_its_days_row_as_to_its_hours(monkeypatch):
    a, b = make_integration(name="A"), make_integration(name="B")
    _calls_at(monkeypatch, _moments(), integration_id=a.pk, token_id=4)
    _calls_at(monkeypatch, _moments()[:3], integration_id=b.pk, feature="Search")
    assert DailyRollup.objects.count() == 6 + 3  # six days for A, three for B
    assert _days() == _days_from_hours()
    assert sum(DailyRollup.objects.values_list("calls", flat=True)) == CallRecord.objects.count()


def test_the_migration_fills_the_days_of_the_hours_already_kept(monkeypatch):
    _calls_at(monkeypatch, _moments(), integration_id=make_integration().pk)
    expected = _days()
    DailyRollup.objects.all().delete()
    migration = importlib.import_module("usage.migrations.0002_daily_rollups")
    migration.fill_from_hours(apps, None)
    assert _days() == expected == _days_from_hours()


def test_the_30_day_page_counts_what_the_records_hold(monkeypatch, alice_client):
    _calls_at(monkeypatch, _moments(), integration_id=make_integration().pk)
    text = alice_client.get("/usage/?range=30d").text
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=29)
    in_range = CallRecord.objects.filter(created__gte=start)
    assert 0 < in_range.count() < CallRecord.objects.count()
    assert f'<strong id="total-calls">{in_range.count()}</strong>' in text
    errors = in_range.filter(ok=False).count()
    assert f'<strong id="total-errors">{errors}</strong>' in text


def test_retention_deletes_old_days_as_old_hours(settings, monkeypatch):
    settings.USAGE_ROLLUP_RETENTION_DAYS = 10
    _calls_at(monkeypatch, _moments(), integration_id=make_integration().pk)
    done = retention.apply()
    assert done["rollups"] == 2  # the hour and the day of the call 40 days ago
    assert DailyRollup.objects.count() == 5 and _days() == _days_from_hours()
