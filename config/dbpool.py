"""The check a pooled PostgreSQL connection passes before the pool hands it out.

psycopg_pool's own check sends an empty query: a round trip to the server on every request. A
connection that the server closed (PostgreSQL restarted or stopped, the connection terminated)
has something to read on its socket while it sits idle in the pool: the server's goodbye or the
end of the stream. Only then is the round trip made (and fails, so the pool opens a new
connection): a restarted PostgreSQL still costs a failed check, not a failed request, and a
healthy connection costs a look at its socket.
"""

from __future__ import annotations

import select
from typing import Any

from psycopg_pool import ConnectionPool


def check(conn: Any) -> None:
    if conn.closed:
        raise ConnectionError("the connection is closed")
    # poll, not select: a web process holding many live streams has descriptors past select's
    # limit of 1024.
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if poller.poll(0):  # nothing is expected from an idle connection: ask the server
        ConnectionPool.check_connection(conn)
