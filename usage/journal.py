"""The call journal: usage records pushed to Redis on the call's path, moved to PostgreSQL in
batches (config.journal says what every journal guarantees).

A call's record costs the call one RPUSH (a round trip to Redis) instead of a database
statement that inserts the record and updates two rollup rows. A batch of up to
USAGE_JOURNAL_BATCH records is then one statement (DRAIN) that inserts them and adds them to
their hourly and daily rollups: one upsert per rollup row the batch touches, not per call.

Exactly once: each entry's journal id is unique in usage_callrecord; a repeated drain's insert
skips the ids already there and adds only the rows it inserted to the rollups. The pages that
read usage settle the journal before they read, so what they show includes every call that
ended before. Redis unreachable, SQLite, a caller's transaction (its rows commit or roll back
with it), or USAGE_DURABLE_RECORDS / USAGE_JOURNAL=false: the record is written directly.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from config.journal import Journal, dumps, journal_id
from usage.models import BUCKETS, RECORD_FIELDS, ROLLUP_DIMENSIONS, ROLLUP_SUMS

# An entry: a JSON array of these, in this order (the record's columns, then its latency
# bucket). Times are ISO 8601 strings.
ENTRY_FIELDS: tuple[tuple[str, str], ...] = (
    ("journal_id", "uuid"),
    *RECORD_FIELDS,
    ("bucket", "integer"),
)
_COLUMNS = ", ".join(name for name, _ in ENTRY_FIELDS[:-1])
_PLAIN_SUMS = (
    "count(*)",
    "count(*) FILTER (WHERE NOT ok)",
    "coalesce(sum(input_tokens), 0)",
    "coalesce(sum(output_tokens), 0)",
    "coalesce(sum(cost_nano), 0)",
    "coalesce(sum(total_ms), 0)",
)
_SUMS = (*_PLAIN_SUMS, *(f"count(*) FILTER (WHERE bucket = {b})" for b in range(BUCKETS)))
_DIMENSIONS = tuple(
    d if d in ("kind", "feature") else f"coalesce({d}, 0)" for d in ROLLUP_DIMENSIONS
)


def _rollup(table: str, period: str, truncate: str) -> str:
    key = (period, *ROLLUP_DIMENSIONS)
    grouped = ", ".join(str(i + 1) for i in range(len(key)))
    return (
        f"INSERT INTO {table} ({', '.join(key + ROLLUP_SUMS)}) "  # noqa: S608  # nosec B608
        f"SELECT date_trunc('{truncate}', created, 'UTC'), {', '.join(_DIMENSIONS)}, "
        f"{', '.join(_SUMS)} FROM counted GROUP BY {grouped} ORDER BY {grouped} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in ROLLUP_SUMS)
    )


# Built from the constant names above, never from input. The body of the database function
# usage_drain(batch jsonb) (migration 0005), where PostgreSQL plans it once per connection:
# sent as a statement it was parsed and planned on every drain (1.4 ms against 0.45 ms for a
# batch of one on the benchmark machine).
DRAIN_BODY = (
    "WITH batch AS (SELECT "  # noqa: S608  # nosec B608
    + ", ".join(f"(e->>{i})::{kind} AS {name}" for i, (name, kind) in enumerate(ENTRY_FIELDS))
    + " FROM jsonb_array_elements(entries) AS e), "  # noqa: S608  # nosec B608
    f"added AS (INSERT INTO usage_callrecord ({_COLUMNS}) SELECT {_COLUMNS} FROM batch "
    "ON CONFLICT (journal_id) DO NOTHING RETURNING journal_id), "
    "counted AS (SELECT batch.* FROM batch JOIN added USING (journal_id)), "
    f"hourly AS ({_rollup('usage_hourlyrollup', 'hour', 'hour')}), "
    f"daily AS ({_rollup('usage_dailyrollup', 'day', 'day')}) "
    "SELECT count(*) INTO added_count FROM added"
)
CREATE_DRAIN = (
    "CREATE OR REPLACE FUNCTION usage_drain(entries jsonb) RETURNS integer "
    "LANGUAGE plpgsql AS $fn$ DECLARE added_count integer; BEGIN "
    f"{DRAIN_BODY}; RETURN added_count; END $fn$"
)
DRAIN = "SELECT usage_drain(%s::jsonb)"


def entry(values: list[Any]) -> str:
    """The entry of a record: its values in ENTRY_FIELDS' order after the journal id, without
    NUL characters (config.journal.dumps)."""
    return dumps([journal_id(), *values], default=str)


def _commit(entries: list[bytes]) -> int:
    batch = "[" + ",".join(e.decode() for e in entries) + "]"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '5s'")
        cursor.execute(DRAIN, [batch])
        return int(cursor.fetchone()[0])


journal = Journal(
    "usage",
    _commit,
    enabled=lambda: settings.USAGE_JOURNAL,
    durable=lambda: settings.USAGE_DURABLE_RECORDS,
    batch=lambda: settings.USAGE_JOURNAL_BATCH,
    window=lambda: settings.USAGE_JOURNAL_WINDOW_SECONDS,
    idle=lambda: settings.USAGE_JOURNAL_IDLE_SECONDS,
)
drainer = journal.drainer
usable = journal.usable
journal_key = journal.journal_key
lock_key = journal.lock_key
rejected_key = journal.rejected_key
drain = journal.drain
pending = journal.pending
settle = journal.settle


def push(values: list[Any], db: BaseDatabaseWrapper) -> bool:
    """Put a record in the journal; False when Redis cannot take it (then write it directly)."""
    return journal.push(entry(values), db)
