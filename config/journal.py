"""A journal in Redis: entries pushed on a hot path, committed to PostgreSQL in batches.

For what the hot path must not wait on the database for, but must not lose either: the usage
record of every call (usage.journal) and the audit event of every API token use
(audit.journal). An entry costs its caller one RPUSH; a drain then commits up to a batch of
entries with one call of the journal's `commit`.

What holds, for every journal:
- An entry pushed before the answer left is on record: it stays in Redis until a drain
  committed it (durably: the drain's commit waits for the disk). docker-compose runs Redis
  with its append-only file.
- Exactly once: each entry carries a journal id (`journal_id()`), and `commit` skips the ids
  already committed. A drain that committed and stopped before trimming the list is repeated by
  the next one, which adds nothing twice.
- A batch the database refuses as data is committed entry by entry, and the entries refused
  are set aside in a `rejected` list (and logged), so that one bad entry cannot hold up the
  journal.
- One drain at a time, by any process: a lock in Redis; entries are trimmed only while it is
  held. The process that pushed drains in a thread woken by its pushes, a window after the
  first and then once per window while entries keep coming (so that each drain moves a batch);
  readers settle the journal before they read; beat drains what a process that died left.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, DataError, IntegrityError, connection
from django.db.backends.base.base import BaseDatabaseWrapper

from config.cache import UNREACHABLE, breaker, command, redis_client

log = logging.getLogger(__name__)

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


# JSON's escape of a NUL character: a backslash-u0000 not itself escaped (a backslash written as
# text before "u0000" is doubled, so the escape starts after an even run of backslashes).
_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def dumps(values: list[Any], **options: Any) -> str:
    """An entry's text: the values as compact JSON, without NUL characters, which PostgreSQL's
    text cannot hold. Text that only reads like the escape (a backslash, then "u0000") stays."""
    text = json.dumps(values, separators=(",", ":"), **options)
    return _NUL.sub(r"\1", text) if "\\u0000" in text else text


def journal_id() -> str:
    """A new journal id: the time in nanoseconds, then 64 random bits (a UUID's 32 hex digits).
    Ids made one after another sort together, so a unique index takes them at its right edge
    instead of at random places (as random UUIDs would be, in a table of millions)."""
    return f"{time.time_ns():016x}{os.urandom(8).hex()}"


class Journal:
    """One journal: its keys in Redis (one journal per database, so that two consoles sharing
    one Redis keep apart), its commit, and the settings that tune it (read at each use)."""

    def __init__(
        self,
        name: str,
        commit: Callable[[list[bytes]], int],
        *,
        enabled: Callable[[], bool],
        durable: Callable[[], bool],
        batch: Callable[[], int],
        window: Callable[[], float],
        idle: Callable[[], float],
    ) -> None:
        self.name = name
        self.commit = commit
        self.enabled = enabled
        self.durable = durable
        self.batch = batch
        self.window = window
        self.idle = idle
        self.drainer = Drainer(self)

    def usable(self, db: BaseDatabaseWrapper) -> bool:
        """Whether an entry written now on this connection may go through the journal: not when
        it must be durable at once, nor inside a transaction (its rows commit or roll back with
        it), nor off PostgreSQL."""
        return (
            self.enabled()
            and not self.durable()
            and db.vendor == "postgresql"
            and not db.in_atomic_block
        )

    def _key(self, suffix: str, db: BaseDatabaseWrapper | None = None) -> str:
        from django.core.cache import cache

        database = (db or connection).settings_dict["NAME"]
        return cache.make_key(f"{self.name}:{database}:journal{suffix}")

    def journal_key(self, db: BaseDatabaseWrapper | None = None) -> str:
        return self._key("", db)

    def lock_key(self) -> str:
        return self._key(":lock")

    def rejected_key(self) -> str:
        return self._key(":rejected")

    def push(self, entry: str, db: BaseDatabaseWrapper) -> bool:
        """Put an entry in the journal (one RPUSH, config.cache.command); False when Redis
        cannot take it (then the caller writes it directly)."""
        client = redis_client()
        if client is None:
            return False
        try:
            length = int(command(client, "RPUSH", self.journal_key(db), entry))
        except UNREACHABLE as e:
            breaker.failed(e)
            return False
        breaker.succeeded()
        self.drainer.pushed(length)
        return True

    def _commit_each(self, client: Any, entries: list[bytes]) -> int:
        added = 0
        for e in entries:
            try:
                added += self.commit([e])
            except (DataError, IntegrityError) as error:
                log.error("%s journal: an entry was refused and set aside: %s", self.name, error)
                client.rpush(self.rejected_key(), e)
        return added

    def drain(self, seconds: float = 5.0) -> int | None:
        """Commit the journal's entries, a batch at a time, for about `seconds` at most. Returns
        how many were added, or None when this could not drain (another drain holds the lock,
        Redis or the database is unreachable)."""
        if connection.in_atomic_block:
            return None
        client = redis_client()
        if client is None:
            return None
        token = uuid.uuid4().hex
        key, lock, batch = self.journal_key(), self.lock_key(), self.batch()
        try:
            if not client.set(lock, token, nx=True, px=LOCK_MS):
                return None
            added, until = 0, time.monotonic() + seconds
            try:
                while True:
                    entries = client.lrange(key, 0, batch - 1)
                    if not entries:
                        break
                    try:
                        added += self.commit(entries)
                    except (DataError, IntegrityError):
                        added += self._commit_each(client, entries)
                    if not client.eval(_TRIM, 2, key, lock, token, len(entries), LOCK_MS):
                        break
                    if len(entries) < batch or time.monotonic() > until:
                        break
            finally:
                client.eval(_RELEASE, 1, lock, token)
        except UNREACHABLE as e:
            breaker.failed(e)
            return None
        except DatabaseError as e:
            log.warning("%s journal: drain failed, the entries stay for the next: %s", self.name, e)
            return None
        breaker.succeeded()
        return added

    def pending(self) -> int:
        """How many entries wait in the journal (0 when Redis cannot be reached)."""
        client = redis_client()
        if client is None:
            return 0
        try:
            return int(client.llen(self.journal_key()))
        except UNREACHABLE as e:
            breaker.failed(e)
            return 0

    def settle(self, seconds: float = 1.0) -> bool:
        """Drain until the journal is empty (every entry pushed before is committed: entries are
        trimmed only after their commit), for at most `seconds`. For readers: True when what
        they read next holds every entry pushed before."""
        if not self.enabled() or connection.in_atomic_block:
            return True
        until = time.monotonic() + seconds
        while self.pending():
            if time.monotonic() > until:
                return False
            if self.drain(max(0.0, until - time.monotonic())) is None:
                time.sleep(0.01)  # another process's drain holds the lock
        return True


class Drainer:
    """Per process and journal: a thread that drains after this process pushed, and every few
    seconds while the journal is not empty (a drain another process held, or left)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pid = 0

    def pushed(self, length: int) -> None:
        if self._pid != os.getpid():
            self._start()
        if length == 1 or length >= self.journal.batch():
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._wake = threading.Event()
            name = f"{self.journal.name}-journal"
            threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        journal = self.journal
        while True:
            self._wake.wait(journal.idle())
            self._wake.clear()
            delay = window = journal.window()
            try:
                # Under steady pushes the list never empties: each drain waits a window first,
                # so that it moves a batch, not the one or two entries pushed during the last.
                while journal.pending():
                    time.sleep(delay)
                    # None: another drain runs, or the database is down: wait longer.
                    delay = min(delay * 2, 2.0) if journal.drain() is None else window
            except Exception:  # the thread must live on: the next wake tries again
                log.exception("%s journal: drain failed", journal.name)
            finally:
                connection.close()  # back to the pool between drains
