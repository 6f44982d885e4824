"""Redis, allowed to fail: the shared cache answers as a miss and the console keeps working.

Redis is the broker (background work) and the shared cache. When it cannot be reached:
- every cache call answers as a miss (get -> default, add -> False, set/delete do nothing), so
  pages, login and the Invoke API work from the database;
- this process stops trying for REDIS_RETRY_SECONDS after a failure, so a page never waits
  for one connection timeout per cache call, then tries again: it recovers by itself;
- `available()` says so, for the banner on every page and for Test, which answers at once
  that the queue is unavailable instead of waiting for the broker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient, RedisSerializer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
# How long a successful contact vouches for Redis before `available()` asks it again.
FRESH_SECONDS = 1.0

T = TypeVar("T")


class Breaker:
    """Per process: is Redis known to be unreachable right now?"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._last_ok = 0.0

    def closed(self) -> bool:
        """True when a call may go to Redis (up, or time to try again)."""
        return self._down_since is None or time.monotonic() >= self._retry_at

    def is_down(self) -> bool:
        return self._down_since is not None

    def succeeded(self) -> None:
        self._last_ok = time.monotonic()
        if self._down_since is not None:
            with self._lock:
                if self._down_since is not None:
                    log.warning(
                        "Redis is reachable again after %.1f s",
                        time.monotonic() - self._down_since,
                    )
                    self._down_since = None

    def failed(self, error: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            if self._down_since is None:
                log.warning("Redis is unreachable (%s): working without it", type(error).__name__)
                self._down_since = now
            self._retry_at = now + settings.REDIS_RETRY_SECONDS

    def recently_ok(self) -> bool:
        return self._down_since is None and time.monotonic() - self._last_ok < FRESH_SECONDS

    def reset(self) -> None:
        with self._lock:
            self._down_since = None
            self._retry_at = 0.0
            self._last_ok = 0.0


breaker = Breaker()


def guarded(fallback: Callable[..., Any]) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Run the call against Redis unless it is known down; on failure answer `fallback(...)`."""

    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        @wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            if not breaker.closed():
                return fallback(*args, **kwargs)
            try:
                result = method(*args, **kwargs)
            except UNREACHABLE as e:
                breaker.failed(e)
                return fallback(*args, **kwargs)
            breaker.succeeded()
            return result

        return wrapper

    return decorate


def _default(self: Any, key: str, default: Any = None, version: int | None = None) -> Any:
    return default


def _none(*args: Any, **kwargs: Any) -> None:
    return None


def _false(*args: Any, **kwargs: Any) -> bool:
    return False


def _empty(*args: Any, **kwargs: Any) -> dict:
    return {}


def _missing(self: Any, key: str, delta: int = 1, version: int | None = None) -> int:
    # What Django's caches do for a key that is not there.
    raise ValueError(f"Key '{key}' not found (Redis is unreachable)")


def _unset(self: Any, data: dict, *args: Any, **kwargs: Any) -> list:
    return list(data)  # the keys that were not set


class ReusingRedisCacheClient(RedisCacheClient):
    """Django's client makes a redis.Redis object per call (~0.2 ms each); one per pool will do
    (it is thread-safe). That keeps a cache read, such as the Invoke API's version check, at
    about a network round trip."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django_client: Any = self  # its helpers are private, so not in the type stubs
        index = django_client._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = django_client._client(
                connection_pool=django_client._get_connection_pool(write)
            )
        return client


# One client (with its connection pools) per configuration for the whole process.
_process_clients: dict[str, ReusingRedisCacheClient] = {}
_process_clients_lock = threading.Lock()


class FailSoftRedisCache(RedisCache):
    """Django's Redis cache, answering as a miss while Redis cannot be reached."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient

    @property  # type: ignore[override]
    def _cache(self) -> ReusingRedisCacheClient:
        """The process's client for this configuration, shared by every cache object.

        Django makes a cache object per thread, and under ASGI each request has a thread of its
        own: with a client per cache object every request opened a new connection pool, so a
        new TCP connection to Redis (about a fifth of an Invoke API call's time in a profile),
        and read redis-py's version from the installed files. The client and its pools are
        thread-safe, and redis-py's pools notice a fork and start afresh in the child.
        """
        django_cache: Any = self  # its attributes are private, so not in the type stubs
        key = django_cache.__dict__.get("_process_key")
        if key is None:
            servers, options = django_cache._servers, django_cache._options
            key = django_cache._process_key = repr((servers, sorted(options.items())))
        client = _process_clients.get(key)
        if client is None:
            with _process_clients_lock:
                client = _process_clients.get(key)
                if client is None:
                    client = _process_clients[key] = self._class(servers, **options)
        return client

    get = guarded(_default)(RedisCache.get)
    add = guarded(_false)(RedisCache.add)
    set = guarded(_none)(RedisCache.set)
    touch = guarded(_false)(RedisCache.touch)
    delete = guarded(_false)(RedisCache.delete)
    has_key = guarded(_false)(RedisCache.has_key)
    incr = guarded(_missing)(RedisCache.incr)
    get_many = guarded(_empty)(RedisCache.get_many)
    set_many = guarded(_unset)(RedisCache.set_many)
    delete_many = guarded(_none)(RedisCache.delete_many)
    clear = guarded(_false)(RedisCache.clear)


def _shared_client() -> Any | None:
    """The shared cache's Redis client (thread-safe, one per process); None if not Redis."""
    from django.core.cache import cache

    client = getattr(cache, "_cache", None)
    if client is None or not hasattr(client, "get_client"):
        return None
    return client.get_client(write=True)


def redis_client() -> Any | None:
    """The shared cache's Redis client, or None without Redis or while this process waits to
    try it again after a failure. Callers catch UNREACHABLE and tell the breaker."""
    if not settings.REDIS_URL or not breaker.closed():
        return None
    return _shared_client()


def command(client: Any, *args: Any) -> Any:
    """One command on a connection of the client's pool, without redis-py's command wrapper:
    for the hot path, where its retries and bookkeeping cost as much as the round trip. A
    failure is not retried (it raises UNREACHABLE; the caller tells the breaker and falls back).
    """
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_command(*args)
        return connection.read_response()
    except BaseException:
        connection.disconnect()  # a half-read answer must not reach the next command
        raise
    finally:
        pool.release(connection)


def _ping() -> bool:
    client = _shared_client()
    if client is None:
        return True  # not Redis: the embedded file cache is always there
    try:
        client.ping()
    except UNREACHABLE as e:
        breaker.failed(e)
        return False
    breaker.succeeded()
    return True


def available() -> bool:
    """Whether Redis (broker and shared cache) can be reached; always True without Redis.

    Answers from memory within FRESH_SECONDS of the last contact, or while this process waits
    to try again after a failure; otherwise asks Redis (one PING).
    """
    if not settings.REDIS_URL:
        return True
    if breaker.recently_ok():
        return True
    if not breaker.closed():
        return False
    return _ping()


def banner(request: Any) -> dict[str, Any]:
    """Template context: the banner shown on every page while background work is unavailable."""
    return {"background_unavailable": not available()}


_serializer = RedisSerializer()


class SharedVersion:
    """A value in the shared cache that changes each time something it stands for changes.

    A process that keeps copies of database rows in memory reads it once per use (one GET,
    well under a millisecond on Redis) and drops its copies when it differs from the value
    they were read under. `bump()` runs when the changing transaction commits, never before:
    a process reading in between would otherwise keep the old rows under the new value.
    Each bump writes a new random value, so a Redis that restarted empty cannot hand out a
    value some process already saw. `current()` is None while the shared cache cannot be
    reached: then nothing may be kept.
    """

    def __init__(self, key: str) -> None:
        self.key = key

    def current(self) -> str | None:
        from django.core.cache import cache

        client = redis_client()
        if client is None:
            value = cache.get(self.key)  # the embedded file cache, or Redis known down
        else:
            # Read once per API call: one GET on the pool, stored as the cache stores it.
            try:
                raw = command(client, "GET", cache.make_key(self.key))
            except UNREACHABLE as e:
                breaker.failed(e)
                return None
            breaker.succeeded()
            value = None if raw is None else _serializer.loads(raw)
        if value is None:
            if breaker.is_down():
                return None
            # First use, or Redis restarted or evicted it: start a new value.
            cache.add(self.key, _new_value(), timeout=None)
            value = cache.get(self.key)
        return value if isinstance(value, str) else None

    def bump(self) -> None:
        from django.db import transaction

        transaction.on_commit(self._write)

    def _write(self) -> None:
        from django.core.cache import cache

        cache.set(self.key, _new_value(), timeout=None)


def _new_value() -> str:
    import uuid

    return uuid.uuid4().hex
