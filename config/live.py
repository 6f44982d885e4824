"""Live updates of a test row: Server-Sent Events from an async view, holding no thread.

The worker calls `changed(model, pk)` whenever a test row changes (claimed, a step done, text
streamed in, ended). With REDIS_URL set, that publishes on a Redis channel, and each web process
listens on one shared pub/sub connection (`Hub`) that wakes the streams watching that row. On the
embedded default (no Redis), a stream looks at the row every LIVE_POLL_SECONDS with a short query,
sleeping between looks in the event loop: no thread waits either way.

A stream always starts from the stored row, so a browser that reconnects (the stream dropped, a
server restarted) catches up at once; a message lost on the way costs at most LIVE_SAFETY_SECONDS,
since a stream also looks at the row that often.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, transaction
from django.http import StreamingHttpResponse

from config import cache as shared_cache
from config.reread import Reread

log = logging.getLogger(__name__)

# The path of every live-update view ends so (config.asgi serves them without a thread each).
PATH_SUFFIX = "/events/"

# How often a stream looks at the row without Redis, and with it (in case a message was lost).
LIVE_POLL_SECONDS = 0.05
LIVE_SAFETY_SECONDS = 2.0
# A comment line this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15.0
# A stream ends after this long; the browser reconnects by itself and starts from the row.
STREAM_SECONDS = 300.0
# How often a stream asks whether a running test lost its worker (the reaper's question).
REAP_SECONDS = 5.0
# What the browser waits before reconnecting a dropped stream, in ms.
RETRY_MS = 1000


def _prefix() -> str:
    # Rows are told apart by their database too: deployments (or test runs) may share a Redis.
    return f"live:{settings.DATABASES['default']['NAME']}:"


def channel(model: type[Any], pk: int) -> str:
    return f"{_prefix()}{model._meta.label_lower}:{pk}"


# --- the worker's side -----------------------------------------------------------------

_publisher: Any = None


def _redis() -> Any:
    global _publisher
    if _publisher is None:
        import redis

        _publisher = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5
        )
    return _publisher


def changed(model: type[Any], pk: int) -> None:
    """Tell the pages watching this row that it changed, once the change is committed."""
    if settings.REDIS_URL:
        transaction.on_commit(lambda: _publish(channel(model, pk)))


def _publish(name: str) -> None:
    if not shared_cache.breaker.closed():
        return  # the pages look at the row by themselves until Redis is back
    try:
        _redis().publish(name, b"1")
    except shared_cache.UNREACHABLE as e:
        shared_cache.breaker.failed(e)


# --- the web side ----------------------------------------------------------------------


class Hub:
    """One pub/sub connection per event loop, waking the streams that watch a channel."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.listening = False
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def watch(self, name: str) -> Iterator[asyncio.Event]:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen())
        event = asyncio.Event()
        self._watchers.setdefault(name, set()).add(event)
        try:
            yield event
        finally:
            watchers = self._watchers.get(name)
            if watchers is not None:
                watchers.discard(event)
                if not watchers:
                    del self._watchers[name]

    def _wake(self, name: str | None = None) -> None:
        groups = [self._watchers.get(name, set())] if name else list(self._watchers.values())
        for group in groups:
            for event in group:
                event.set()

    async def _listen(self) -> None:
        import redis.asyncio as aioredis

        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", _prefix()) + "*"
        while True:
            client = aioredis.Redis.from_url(self.url, socket_connect_timeout=1)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.psubscribe(pattern)
                    self.listening = True
                    self._wake()  # a change before the subscription took is looked at now
                    async for message in pubsub.listen():
                        if message["type"] == "pmessage":
                            self._wake(message["channel"].decode())
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("live updates: Redis pub/sub failed (%s), polling", type(e).__name__)
            finally:
                self.listening = False
                self._wake()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(1.0)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub | None:
    if not settings.REDIS_URL:
        return None
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub(settings.REDIS_URL)
    return found


@dataclass
class Look:
    """What a stream saw of the row: its status, and the events to send for it."""

    status: str
    terminal: bool
    events: list[tuple[str, str]] = field(default_factory=list)


def status_look(
    rows: Any,
    render: Callable[[Any], str],
    text: Callable[[Any], str | None] | None = None,
) -> Callable[[str], Look | None]:
    """A look at one test row (`rows` holds it): its status, and when it moved, its part.

    The row is read with a statement built once for the stream (config.reread): a look runs
    at every change of the row, on the way from the worker's commit to the page.

    With `text`, a row still at the status the page shows may send a `text` event too (a
    streamed answer so far; a stream sends it again only when it changed).
    """

    reader: Reread | None = None

    def look(seen: str) -> Look | None:
        nonlocal reader
        if reader is None:  # built at the first look, on a thread, and kept for the stream
            reader = Reread(rows)
        row = reader.first()  # one query: the part is rendered from what it read
        if row is None:
            return None
        if row.status == seen:
            streamed = text(row) if text is not None else None
            return Look(row.status, False, [("text", streamed)] if streamed is not None else [])
        return Look(row.status, row.is_terminal, [("status", render(row))])

    return look


def sse(event: str | None, data: str) -> bytes:
    lines = [f"event: {event}"] if event else []
    lines += [f"data: {line}" for line in (data.splitlines() or [""])]
    return ("\n".join(lines) + "\n\n").encode()


def stream(
    model: type[Any],
    pk: int,
    seen: str,
    look: Callable[[str], Look | None],
    reap: Callable[[], object],
) -> StreamingHttpResponse:
    """Answer text/event-stream for one test row.

    `look(seen)` (sync, short queries) reads the row and returns the events to send: a `status`
    event with the re-rendered part whenever the status is no longer `seen`, which ends the stream
    (the browser swaps the part, and a part still running opens its own stream).
    """
    response = StreamingHttpResponse(_events(model, pk, seen, look, reap))
    response["Content-Type"] = "text/event-stream"
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _closing[T](fn: Callable[..., T]) -> Callable[..., T]:
    def run(*args: Any) -> T:
        try:
            return fn(*args)
        finally:
            close_old_connections()  # the pool gets the connection back between looks

    return run


def _in_pool[T](fn: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """Run a short sync call on the loop's shared threads, not on a thread of this request's."""
    return sync_to_async(_closing(fn), thread_sensitive=False)


async def _events(
    model: type[Any],
    pk: int,
    seen: str,
    look: Callable[[str], Look | None],
    reap: Callable[[], object],
) -> AsyncIterator[bytes]:
    yield f"retry: {RETRY_MS}\n\n".encode()
    the_hub = hub()
    started = last_sent = last_reap = time.monotonic()
    sent: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        wake = stack.enter_context(the_hub.watch(channel(model, pk))) if the_hub else None
        while True:
            if wake is not None:
                wake.clear()
            seen_now = await _in_pool(look)(seen)
            if seen_now is None:
                return
            for name, data in seen_now.events:
                if sent.get(name) != data:
                    sent[name] = data
                    yield sse(name, data)
                    last_sent = time.monotonic()
            if seen_now.status != seen or seen_now.terminal:
                return
            now = time.monotonic()
            if now - started > STREAM_SECONDS:
                return
            if now - last_sent > KEEPALIVE_SECONDS:
                yield b": keepalive\n\n"
                last_sent = now
            if now - last_reap > REAP_SECONDS:
                last_reap = now
                await _in_pool(reap)()
                continue
            if wake is not None:
                # Before the hub has subscribed, a look every poll interval; its subscribing
                # wakes every stream at once (a change made before it took is looked at then).
                timeout = (
                    LIVE_SAFETY_SECONDS if the_hub and the_hub.listening else LIVE_POLL_SECONDS
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)
            else:
                await asyncio.sleep(LIVE_POLL_SECONDS)
