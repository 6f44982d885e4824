"""Commits of usage rows (records, rollups, limit counters) that do not wait for the disk."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction


@contextmanager
def unflushed() -> Iterator[None]:
    """On PostgreSQL, a transaction whose commit does not wait for the disk (asynchronous
    commit): the row is visible to everyone at once and on disk within a fraction of a second
    (3 x wal_writer_delay). Only a crash of the database server itself in that moment loses it;
    a web or worker process that dies after answering does not. Waiting for the disk costs one
    fsync per call (about 4 ms on the benchmark machine): USAGE_DURABLE_RECORDS=true pays it.
    Inside a caller's transaction, nothing changes (the rows commit with it).
    """
    if (
        connection.vendor != "postgresql"
        or connection.in_atomic_block
        or settings.USAGE_DURABLE_RECORDS
    ):
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
        yield
