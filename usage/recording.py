"""The usage record of every model call, written by the observer the invocation core notifies.

On PostgreSQL with Redis the record is pushed to the call journal (usage.journal), in the
thread that made the call, before the answer is sent: one round trip to Redis, and the records
reach the database in batches. Otherwise (no Redis or Redis unreachable, SQLite, inside a
caller's transaction, USAGE_DURABLE_RECORDS) it is written directly: on PostgreSQL one call of
a database function (usage_record, migration 0003) inserts the call's record and adds it to its
hourly and daily rollups, committed without waiting for the disk (usage.commit); SQLite runs
the three statements in one transaction. Either way a call whose answer was sent is on record
(a queue in a process's memory would lose the calls of a process that dies). The cost measured
is in docs/performance.md ("Usage recording").

The same observer feeds the Prometheus metrics (usage.metrics) and the per-token spend that
limits read (usage.limits).
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from bedrock.observe import CallContext, CallOutcome
from usage import journal, limits, metrics, prices
from usage.models import (
    BUCKETS,
    RECORD_FIELDS,
    ROLLUP_DIMENSIONS,
    ROLLUP_SUMS,
    BodyKeeping,
    bucket_of,
)

RECORD_COLUMNS = tuple(name for name, _ in RECORD_FIELDS)


def _placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


def _upsert_rollup(table: str, period: str) -> str:
    key = (period, *ROLLUP_DIMENSIONS)
    # Built from the constant names above, never from input.
    return (
        f"INSERT INTO {table} ({', '.join(key + ROLLUP_SUMS)}) "  # noqa: S608  # nosec B608
        f"VALUES ({_placeholders(len(key + ROLLUP_SUMS))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in ROLLUP_SUMS)
    )


INSERT_RECORD = (
    f"INSERT INTO usage_callrecord ({', '.join(RECORD_COLUMNS)}) "  # noqa: S608  # nosec B608
    f"VALUES ({_placeholders(len(RECORD_COLUMNS))})"
)
UPSERT_HOURLY = _upsert_rollup("usage_hourlyrollup", "hour")
UPSERT_DAILY = _upsert_rollup("usage_dailyrollup", "day")
# PostgreSQL: usage_record() (migration 0003) inserts the record and adds it to both rollups,
# in one call, its statements planned once per connection. Arguments: whether to commit without
# waiting for the disk, the record, the hour, then the rollup's dimensions and sums. The latency
# histogram's sums (one 1 among zeros) are sent as the one bucket's number: psycopg converts a
# statement of at most 50 distinct parameters once and reuses it, and one of 54 on every call
# (about 0.3 ms of CPU each time, most of the record's cost in a profile).
_PLAIN_SUMS = len(ROLLUP_SUMS) - BUCKETS  # calls, errors, tokens, cost, latency sum
CALL_RECORD = "SELECT usage_record({})".format(
    ", ".join(
        (
            "%(unflushed)s::boolean",
            *(f"%(r{i})s::{kind}" for i, (_, kind) in enumerate(RECORD_FIELDS)),
            "%(hour)s::timestamptz",
            *(
                f"%(g{i})s::{'text' if d in ('kind', 'feature') else 'bigint'}"
                for i, d in enumerate(ROLLUP_DIMENSIONS)
            ),
            *(f"%(s{i})s::bigint" for i in range(_PLAIN_SUMS)),
            *(f"coalesce((%(bucket)s::int = {b})::int, 0)::bigint" for b in range(BUCKETS)),
        )
    )
)


def call_values(
    unflushed: bool,
    record: tuple[Any, ...],
    hour: Any,
    dimensions: tuple[Any, ...],
    plain_sums: tuple[Any, ...],
    bucket: int | None,
) -> dict[str, Any]:
    """CALL_RECORD's parameters: the record, the hour, the rollup's dimensions and plain sums,
    and the latency bucket (None: no latency, every bucket adds 0)."""
    values: dict[str, Any] = {"unflushed": unflushed, "hour": hour, "bucket": bucket}
    values |= {f"r{i}": value for i, value in enumerate(record)}
    values |= {f"g{i}": value for i, value in enumerate(dimensions)}
    values |= {f"s{i}": value for i, value in enumerate(plain_sums)}
    return values


def write_postgresql(
    record: tuple[Any, ...],
    hour: Any,
    dimensions: tuple[Any, ...],
    plain_sums: tuple[Any, ...],
    bucket: int | None,
) -> None:
    # Inside a caller's transaction the rows commit with it; USAGE_DURABLE_RECORDS waits for
    # the disk. Otherwise the call is its own transaction (autocommit), committed without
    # waiting for the disk (usage.commit says what that risks) and waiting at most 1 s for a
    # rollup row locked by some long transaction (none in the console's own code).
    unflushed = not (connection.in_atomic_block or settings.USAGE_DURABLE_RECORDS)
    values = call_values(unflushed, record, hour, dimensions, plain_sums, bucket)
    with connection.cursor() as cursor:
        cursor.execute(CALL_RECORD, values)


def _ms(value: float | None) -> int | None:
    return None if value is None else max(0, round(value))


def _count(value: int | None) -> int | None:
    return None if value is None else max(0, int(value))


def record_call(context: CallContext, outcome: CallOutcome) -> None:
    """The observer: write the call's record and rollup, then tell metrics and limits."""
    now = timezone.now()
    # This thread's connection itself, not the `connection` proxy: each of the proxy's
    # attribute reads looks the thread's connection up again (a few microseconds each).
    db = connections[DEFAULT_DB_ALIAS]
    # A thread that had no connection (a helper thread of the caller, not a request or a task)
    # gives back the one the record opened: nothing closes it for that thread otherwise.
    opened_here = db.connection is None
    try:
        price = prices.of_integration(context.integration_id)
        input_tokens = _count(outcome.input_tokens)
        output_tokens = _count(outcome.output_tokens)
        cost = price.cost_nano(input_tokens, output_tokens) if price else None
        write(now, context, outcome, cost, db)
        metrics.observe(context, outcome, cost)
        if context.token_id:
            tokens = (input_tokens or 0) + (output_tokens or 0)
            limits.used(context.token_id, tokens, cost or 0, now)
    finally:
        if opened_here and not db.in_atomic_block:
            db.close()


def write(
    now: datetime,
    context: CallContext,
    outcome: CallOutcome,
    cost: int | None,
    db: BaseDatabaseWrapper | None = None,
) -> None:
    db = db or connections[DEFAULT_DB_ALIAS]
    ops = db.ops
    total_ms = _ms(outcome.total_ms)
    input_tokens, output_tokens = _count(outcome.input_tokens), _count(outcome.output_tokens)
    request_body, response_body, bodies_until = _bodies(now, context, outcome)
    record = (
        ops.adapt_datetimefield_value(now),
        context.kind[:30],
        context.user_id,
        context.token_id,
        context.integration_id,
        context.prompt_id,
        context.version_id,
        context.test_id,
        context.feature[:100],
        outcome.ok,
        outcome.error_code[:100],
        outcome.http_status,
        total_ms,
        _ms(outcome.sts_ms),
        _ms(outcome.model_ms),
        _ms(outcome.first_token_ms),
        input_tokens,
        output_tokens,
        cost,
        outcome.request_id[:100],
        request_body,
        response_body,
        ops.adapt_datetimefield_value(bodies_until),
    )
    dimensions = (
        context.kind[:30],
        context.integration_id or 0,
        context.prompt_id or 0,
        context.version_id or 0,
        context.feature[:100],
        context.token_id or 0,
    )
    plain_sums = (
        1,
        0 if outcome.ok else 1,
        input_tokens or 0,
        output_tokens or 0,
        cost or 0,
        total_ms or 0,
    )
    bucket = None if total_ms is None else bucket_of(total_ms)
    if journal.usable(db):
        values = [
            now.isoformat(),
            *record[1:-1],
            None if bodies_until is None else bodies_until.isoformat(),
            bucket,
        ]
        if journal.push(values, db):
            return
    hour = now.replace(minute=0, second=0, microsecond=0)
    if db.vendor == "postgresql":
        adapted = ops.adapt_datetimefield_value(hour)
        write_postgresql(record, adapted, dimensions, plain_sums, bucket)
        return
    buckets = tuple(int(b == bucket) for b in range(BUCKETS))
    sums: tuple[Any, ...] = (*dimensions, *plain_sums, *buckets)
    hourly = (ops.adapt_datetimefield_value(hour), *sums)
    daily = (ops.adapt_datetimefield_value(hour.replace(hour=0)), *sums)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(INSERT_RECORD, record)
        cursor.execute(UPSERT_HOURLY, hourly)
        cursor.execute(UPSERT_DAILY, daily)


# --- bodies, for the prompts that keep them ---------------------------------------------------

MASK = "•••"
_SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api[-_]?key|authori[sz]ation|credential)", re.I
)
_SECRET_TEXT = [
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),  # AWS access key ids
    re.compile(r"\bbcp_[\w-]{8,}"),  # the console's API tokens
    re.compile(r"(?i)\bbearer\s+[\w.~+/=-]{8,}"),
    re.compile(r"(?i)(\"[^\"]*(?:secret|password|token|api[-_]?key)[^\"]*\"\s*:\s*)\"[^\"]*\""),
]

_keeping_lock = threading.Lock()
_keeping: dict[int, tuple[int, float]] = {}


def keeping_days(prompt_id: int | None) -> int:
    """Days the prompt keeps its calls' bodies (0: not kept); cached like prices."""
    if not prompt_id:
        return 0
    hit = _keeping.get(prompt_id)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    days = (
        BodyKeeping.objects.filter(prompt_id=prompt_id).values_list("days", flat=True).first() or 0
    )
    with _keeping_lock:
        if len(_keeping) > 10_000:
            _keeping.clear()
        _keeping[prompt_id] = (days, now + settings.USAGE_PRICE_CACHE_SECONDS)
    return days


def forget_keeping() -> None:
    with _keeping_lock:
        _keeping.clear()


def _mask_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: MASK if _SECRET_KEY.search(str(k)) and isinstance(v, str) else _mask_json(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def mask_text(text: str) -> str:
    for pattern in _SECRET_TEXT:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + f'"{MASK}"', text)
        else:
            text = pattern.sub(MASK, text)
    return text


def masked_body(body: str | None) -> str:
    """The body with secrets masked, cut at USAGE_BODY_LIMIT characters."""
    if not body:
        return ""
    try:
        shown = json.dumps(_mask_json(json.loads(body)), ensure_ascii=False)
    except ValueError:
        shown = mask_text(body)
    limit = settings.USAGE_BODY_LIMIT
    shown = shown.replace("\x00", "\\x00")
    return shown if len(shown) <= limit else shown[:limit] + " … (cut)"


def _bodies(
    now: datetime, context: CallContext, outcome: CallOutcome
) -> tuple[str, str, datetime | None]:
    if outcome.request_body is None and outcome.response_body is None:
        return "", "", None
    days = keeping_days(context.prompt_id)
    if not days:
        return "", "", None
    return (
        masked_body(outcome.request_body),
        masked_body(outcome.response_body),
        now + timedelta(days=days),
    )
