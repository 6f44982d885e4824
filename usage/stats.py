"""What the usage pages read: sums over a time range and a slice, from the hourly rollups (24
hours, 7 days), the daily rollups (30 days) or the call records (the last hour, which the
charts show by the minute).

Every function runs a fixed number of queries whatever the number of records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone

from usage import journal
from usage.models import (
    BUCKETS,
    LATENCY_BOUNDS_MS,
    NANO,
    CallRecord,
    DailyRollup,
    HourlyRollup,
)


@dataclass(frozen=True)
class Range:
    key: str
    label: str
    span: timedelta
    step: timedelta  # one chart bucket


RANGES = {
    r.key: r
    for r in (
        Range("1h", "Last hour", timedelta(hours=1), timedelta(minutes=1)),
        Range("24h", "Last 24 hours", timedelta(hours=24), timedelta(hours=1)),
        Range("7d", "Last 7 days", timedelta(days=7), timedelta(hours=1)),
        Range("30d", "Last 30 days", timedelta(days=30), timedelta(days=1)),
    )
}
DEFAULT_RANGE = "24h"

# The dimensions a page may be sliced by, as the rollups and the records name them.
DIMENSIONS = ("integration_id", "prompt_id", "version_id", "feature", "token_id", "kind")


@dataclass
class Sums:
    calls: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nano: int = 0
    latency_sum_ms: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add(self, other: Sums) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_nano += other.cost_nano
        self.latency_sum_ms += other.latency_sum_ms
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]

    @property
    def cost_usd(self) -> Decimal:
        return Decimal(self.cost_nano) / NANO

    @property
    def cost_per_call(self) -> Decimal:
        return self.cost_usd / self.calls if self.calls else Decimal(0)

    @property
    def mean_input_tokens(self) -> float:
        return self.input_tokens / self.calls if self.calls else 0.0

    @property
    def mean_output_tokens(self) -> float:
        return self.output_tokens / self.calls if self.calls else 0.0

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None

    @property
    def timed(self) -> int:
        return sum(self.histogram)

    @property
    def mean_ms(self) -> float | None:
        return self.latency_sum_ms / self.timed if self.timed else None

    def percentile(self, q: float) -> float | None:
        """Estimated from the histogram: linear within the bucket the q-th call falls in."""
        total = self.timed
        if not total:
            return None
        wanted = q * total
        seen = 0
        for i, n in enumerate(self.histogram):
            if n and seen + n >= wanted:
                low = LATENCY_BOUNDS_MS[i - 1] if i > 0 else 0
                if i >= len(LATENCY_BOUNDS_MS):
                    return float(low)
                return low + (LATENCY_BOUNDS_MS[i] - low) * (wanted - seen) / n
            seen += n
        return None

    @property
    def p50(self) -> float | None:
        return self.percentile(0.5)

    @property
    def p95(self) -> float | None:
        return self.percentile(0.95)


def _sums(row: dict[str, Any]) -> Sums:
    return Sums(
        calls=row["calls"] or 0,
        errors=row["errors"] or 0,
        input_tokens=row["input_tokens_sum"] or 0,
        output_tokens=row["output_tokens_sum"] or 0,
        cost_nano=row["cost_sum"] or 0,
        latency_sum_ms=row["latency_sum"] or 0,
        histogram=[row[f"h{i}"] or 0 for i in range(BUCKETS)],
    )


def _rollup_aggregates() -> dict[str, Any]:
    return {
        "calls": Sum("calls"),
        "errors": Sum("errors"),
        "input_tokens_sum": Sum("input_tokens"),
        "output_tokens_sum": Sum("output_tokens"),
        "cost_sum": Sum("cost_nano"),
        "latency_sum": Sum("latency_sum_ms"),
        **{f"h{i}": Sum(f"lat{i}") for i in range(BUCKETS)},
    }


def _record_aggregates() -> dict[str, Any]:
    buckets = {}
    for i in range(BUCKETS):
        low = LATENCY_BOUNDS_MS[i - 1] if i > 0 else None
        high = LATENCY_BOUNDS_MS[i] if i < len(LATENCY_BOUNDS_MS) else None
        where = Q(total_ms__isnull=False)
        if low is not None:
            where &= Q(total_ms__gt=low)
        if high is not None:
            where &= Q(total_ms__lte=high)
        buckets[f"h{i}"] = Count("id", filter=where)
    return {
        "calls": Count("id"),
        "errors": Count("id", filter=Q(ok=False)),
        "input_tokens_sum": Sum("input_tokens"),
        "output_tokens_sum": Sum("output_tokens"),
        "cost_sum": Sum("cost_nano"),
        "latency_sum": Sum("total_ms"),
        **buckets,
    }


@dataclass(frozen=True)
class Window:
    """A range ending now, cut into chart buckets, over a slice of the calls."""

    range: Range
    start: datetime
    buckets: list[datetime]
    where: dict[str, Any]

    @property
    def from_records(self) -> bool:
        return self.range.step < timedelta(hours=1)

    @property
    def by_day(self) -> bool:
        """Buckets of whole (UTC) days, starting at midnight: the daily rollups hold exactly
        the sums of the hourly rows of the same days."""
        return self.range.step >= timedelta(days=1)

    def queryset(self) -> QuerySet[Any]:
        if self.from_records:
            return CallRecord.objects.filter(created__gte=self.start, **self.where)
        if self.by_day:
            return DailyRollup.objects.filter(day__gte=self.start, **self.where)
        return HourlyRollup.objects.filter(hour__gte=self.start, **self.where)

    def aggregates(self) -> dict[str, Any]:
        return _record_aggregates() if self.from_records else _rollup_aggregates()

    def label(self, bucket: datetime) -> str:
        if self.range.step >= timedelta(days=1):
            return f"{bucket:%b %d}"
        if self.range.span > timedelta(days=1):
            return f"{bucket:%b %d %H:00}"
        return f"{bucket:%H:%M}"


def window(range_key: str, where: dict[str, Any], now: datetime | None = None) -> Window:
    journal.settle()  # what is read next holds every call that ended before
    r = RANGES.get(range_key) or RANGES[DEFAULT_RANGE]
    now = now or timezone.now()
    if r.step == timedelta(minutes=1):
        last = now.replace(second=0, microsecond=0)
    elif r.step == timedelta(hours=1):
        last = now.replace(minute=0, second=0, microsecond=0)
    else:
        last = now.replace(hour=0, minute=0, second=0, microsecond=0)
    count = int(r.span / r.step)
    buckets = [last - r.step * (count - 1 - i) for i in range(count)]
    return Window(r, buckets[0], buckets, where)


def series(w: Window) -> list[Sums]:
    """Sums per chart bucket, oldest first (one query)."""
    qs = w.queryset()
    if w.from_records:
        qs = qs.annotate(bucket=TruncMinute("created"))
    elif w.by_day:
        qs = qs.annotate(bucket=F("day"))
    else:
        qs = qs.annotate(bucket=F("hour"))
    rows = qs.values("bucket").annotate(**w.aggregates()).order_by()
    found = {row["bucket"]: _sums(row) for row in rows}
    return [found.get(b, Sums()) for b in w.buckets]


def total(points: list[Sums]) -> Sums:
    result = Sums()
    for p in points:
        result.add(p)
    return result


def breakdown(w: Window, *by: str, limit: int = 50) -> list[tuple[tuple[Any, ...], Sums]]:
    """Sums per value of the dimensions `by`, most calls first (one query)."""
    rows = w.queryset().values(*by).annotate(**w.aggregates()).order_by("-calls", *by)[:limit]
    return [(tuple(_none(row[b]) for b in by), _sums(row)) for row in rows]


TABLES = {
    "integration": ("integration_id",),
    "prompt": ("prompt_id", "version_id"),
    "feature": ("feature",),
    "token": ("token_id",),
}


def breakdowns(w: Window, limit: int = 50) -> dict[str, list[tuple[tuple[Any, ...], Sums]]]:
    """The tables by integration, prompt and version, feature and token, from one query: sums
    per combination of them all, added up here (most calls first in each table)."""
    by = ("integration_id", "prompt_id", "version_id", "feature", "token_id")
    rows = w.queryset().values(*by).annotate(**w.aggregates()).order_by()
    tables: dict[str, dict[tuple[Any, ...], Sums]] = {name: {} for name in TABLES}
    for row in rows:
        sums = _sums(row)
        for name, dims in TABLES.items():
            key = tuple(_none(row[d]) for d in dims)
            tables[name].setdefault(key, Sums()).add(sums)
    return {
        name: sorted(found.items(), key=lambda kv: (-kv[1].calls, str(kv[0])))[:limit]
        for name, found in tables.items()
    }


def _none(value: Any) -> Any:
    return None if value in (0, "") else value
