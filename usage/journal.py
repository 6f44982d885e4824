"""The call journal: usage records pushed to Redis on the call's path, moved to PostgreSQL in
batches.

A call's record costs the call one RPUSH (a round trip to Redis) instead of a database
statement that inserts the record and updates two rollup rows. A batch of up to
USAGE_JOURNAL_BATCH records is then one statement (DRAIN) that inserts them and adds them to
their hourly and daily rollups: one upsert per rollup row the batch touches, not per call.

What holds:
- A call whose answer was sent is on record: its entry is in Redis before the answer leaves,
  and stays there until a drain committed it to PostgreSQL (durably: the drain's commit waits
  for the disk). docker-compose runs Redis with its append-only file.
- Exactly once: each entry carries a journal id, unique in usage_callrecord. A drain that
  committed and stopped before trimming the list is repeated by the next one, whose insert
  skips the ids already there and adds only the rows it inserted to the rollups.
- One drain at a time, by any process: a lock in Redis. The process that pushed drains in a
  thread woken by its pushes, a window (USAGE_JOURNAL_WINDOW_SECONDS) after the first and then
  once per window while records keep coming, so that each drain moves a batch; the pages
  that read usage settle the journal before they read, so what they show includes every call
  that ended before; beat drains what a process that died left (usage.tasks).
- Redis unreachable, SQLite, a caller's transaction (its rows commit or roll back with it), or
  USAGE_DURABLE_RECORDS / USAGE_JOURNAL=false: the record is written directly, as before.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from config.cache import UNREACHABLE, breaker, redis_client
from usage.models import BUCKETS, RECORD_FIELDS, ROLLUP_DIMENSIONS, ROLLUP_SUMS

log = logging.getLogger(__name__)

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

# Trims what this drain committed, only while it still holds the lock (else the drain that
# took the lock over after it expired trims), and extends the lock.
_TRIM = (
    "if redis.call('get', KEYS[2]) == ARGV[1] then "
    "redis.call('ltrim', KEYS[1], ARGV[2], -1) redis.call('pexpire', KEYS[2], ARGV[3]) "
    "return 1 end return 0"
)
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
LOCK_MS = 30_000


def _key(name: str, db: BaseDatabaseWrapper | None = None) -> str:
    from django.core.cache import cache

    # One journal per database: two consoles sharing one Redis keep apart.
    return cache.make_key(f"usage:{(db or connection).settings_dict['NAME']}:{name}")


def journal_key(db: BaseDatabaseWrapper | None = None) -> str:
    return _key("journal", db)


def lock_key() -> str:
    return _key("journal:lock")


def rejected_key() -> str:
    return _key("journal:rejected")


def usable(db: BaseDatabaseWrapper) -> bool:
    """Whether a record written now on this connection may go through the journal."""
    return (
        settings.USAGE_JOURNAL
        and not settings.USAGE_DURABLE_RECORDS
        and db.vendor == "postgresql"
        and not db.in_atomic_block
    )


def journal_id() -> str:
    """A new journal id: the time in nanoseconds, then 64 random bits (a UUID's 32 hex digits).
    Ids made one after another sort together, so the unique index takes them at its right
    edge instead of at random places (as random UUIDs would be, in a table of millions)."""
    return f"{time.time_ns():016x}{os.urandom(8).hex()}"


def entry(values: list[Any]) -> str:
    """The entry of a record: its values in ENTRY_FIELDS' order after the journal id.
    PostgreSQL's text holds no NUL character: those are dropped here."""
    text = json.dumps([journal_id(), *values], separators=(",", ":"), default=str)
    return text.replace("\\u0000", "")


def push(values: list[Any], db: BaseDatabaseWrapper) -> bool:
    """Put a record in the journal; False when Redis cannot take it (then write it directly).

    One RPUSH on a connection of the client's pool, without redis-py's command wrapper (its
    retries and bookkeeping cost as much as the round trip here; a failure is not retried
    but answered by the direct write)."""
    client = redis_client()
    if client is None:
        return False
    pool = client.connection_pool
    try:
        redis = pool.get_connection()
        try:
            redis.send_command("RPUSH", journal_key(db), entry(values))
            length = int(redis.read_response())
        except BaseException:
            redis.disconnect()  # a half-read answer must not reach the next command
            raise
        finally:
            pool.release(redis)
    except UNREACHABLE as e:
        breaker.failed(e)
        return False
    breaker.succeeded()
    drainer.pushed(length)
    return True


def _commit(entries: list[bytes]) -> int:
    batch = "[" + ",".join(e.decode() for e in entries) + "]"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '5s'")
        cursor.execute(DRAIN, [batch])
        return int(cursor.fetchone()[0])


def _commit_each(client: Any, entries: list[bytes]) -> int:
    """A batch the database refused as data: each entry alone, and the ones refused set aside
    (in the rejected list, logged), so that one bad entry cannot hold up the journal."""
    added = 0
    for e in entries:
        try:
            added += _commit([e])
        except (DataError, IntegrityError) as error:
            log.error("usage journal: an entry was refused and set aside: %s", error)
            client.rpush(rejected_key(), e)
    return added


def drain(seconds: float = 5.0) -> int | None:
    """Move the journal's entries to PostgreSQL, a batch at a time, for about `seconds` at
    most. Returns how many records were added, or None when this could not drain (another
    drain holds the lock, Redis or the database is unreachable)."""
    if connection.in_atomic_block:
        return None
    client = redis_client()
    if client is None:
        return None
    token = uuid.uuid4().hex
    key, lock = journal_key(), lock_key()
    try:
        if not client.set(lock, token, nx=True, px=LOCK_MS):
            return None
        added, until = 0, time.monotonic() + seconds
        try:
            while True:
                entries = client.lrange(key, 0, settings.USAGE_JOURNAL_BATCH - 1)
                if not entries:
                    break
                try:
                    added += _commit(entries)
                except (DataError, IntegrityError):
                    added += _commit_each(client, entries)
                if not client.eval(_TRIM, 2, key, lock, token, len(entries), LOCK_MS):
                    break
                if len(entries) < settings.USAGE_JOURNAL_BATCH or time.monotonic() > until:
                    break
        finally:
            client.eval(_RELEASE, 1, lock, token)
    except UNREACHABLE as e:
        breaker.failed(e)
        return None
    except DatabaseError as e:
        log.warning("usage journal: drain failed, the entries stay for the next: %s", e)
        return None
    breaker.succeeded()
    return added


def pending() -> int:
    """How many records wait in the journal (0 when Redis cannot be reached)."""
    client = redis_client()
    if client is None:
        return 0
    try:
        return int(client.llen(journal_key()))
    except UNREACHABLE as e:
        breaker.failed(e)
        return 0


def settle(seconds: float = 1.0) -> bool:
    """Drain until the journal is empty (every entry pushed before is committed: entries are
    trimmed only after their commit), for at most `seconds`. For readers of usage: True when
    what they read next holds every call that ended before."""
    if not settings.USAGE_JOURNAL or connection.in_atomic_block:
        return True
    until = time.monotonic() + seconds
    while pending():
        if time.monotonic() > until:
            return False
        if drain(max(0.0, until - time.monotonic())) is None:
            time.sleep(0.01)  # another process's drain holds the lock
    return True


class Drainer:
    """Per process: a thread that drains after this process pushed, and every few seconds
    while the journal is not empty (a drain another process held, or left)."""

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pid = 0

    def pushed(self, length: int) -> None:
        if self._pid != os.getpid():
            self._start()
        if length == 1 or length >= settings.USAGE_JOURNAL_BATCH:
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._wake = threading.Event()
            threading.Thread(target=self._run, name="usage-journal", daemon=True).start()

    def _run(self) -> None:
        window = settings.USAGE_JOURNAL_WINDOW_SECONDS
        while True:
            self._wake.wait(settings.USAGE_JOURNAL_IDLE_SECONDS)
            self._wake.clear()
            delay = window
            try:
                # Under steady calls the list never empties: each drain waits a window first,
                # so that it moves a batch, not the one or two records pushed during the last.
                while pending():
                    time.sleep(delay)
                    # None: another drain runs, or the database is down: wait longer.
                    delay = min(delay * 2, 2.0) if drain() is None else window
            except Exception:  # the thread must live on: the next wake tries again
                log.exception("usage journal: drain failed")
            finally:
                connection.close()  # back to the pool between drains


drainer = Drainer()
