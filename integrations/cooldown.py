"""Which integrations failed too often lately: shared by every process through the cache.

An integration that failed FALLBACK_FAILURES_BEFORE_COOLDOWN times in a row with errors worth a
fallback (bedrock.fallbacks) is skipped for FALLBACK_COOLDOWN_SECONDS; an answer, or a health
canary that succeeds, ends the count and the cooldown. After a cooldown ends the count is still
there: one more failure starts another cooldown at once (a half-open breaker), one success
closes it.

The cache is Redis when REDIS_URL is set (every web process and worker sees the same state),
the file cache of the embedded default otherwise. While Redis cannot be reached the cache
answers as a miss (config.cache): nothing is cooling down, every integration is tried (fail
open), and no call ever fails on this bookkeeping.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

# Failures in a row are forgotten after a day without any.
COUNT_SECONDS = 24 * 3600


def _count_key(key: str) -> str:
    return f"fallback:failures:{key}"


def _until_key(key: str) -> str:
    return f"fallback:until:{key}"


@dataclass(frozen=True, slots=True)
class State:
    failures: int  # fallback-worthy failures in a row
    cooling_until: float | None  # epoch seconds, while cooling down

    @property
    def ready(self) -> bool:
        return self.cooling_until is None


class Store:
    """The bedrock.fallbacks.CooldownStore of the console: keys are integration ids.

    A call reads a candidate's count and cooldown in one round trip before calling it; when it
    found neither, its answer has nothing to end, and `succeeded` sends nothing (most calls: one
    round trip to the cache instead of two). What the call read is kept on its own thread:
    bedrock.fallbacks.call_chain reads every candidate, then calls, on one thread. A failure
    recorded elsewhere while the call ran is then not undone by this answer, as if the answer
    had come first (the two overlapped).
    """

    def __init__(self) -> None:
        self._read = threading.local()  # the keys this thread's current call found clear

    def cooling_until(self, key: str) -> float | None:
        clear = self._clear()
        clear.discard(key)
        try:
            values = cache.get_many([_count_key(key), _until_key(key)])
        except Exception:  # a cache that fails in any way must not fail the call
            log.warning("cooldown state unreadable for %s", key, exc_info=True)
            return None
        if not values:
            clear.add(key)
        until = values.get(_until_key(key))
        if isinstance(until, (int, float)) and until > time.time():
            return float(until)
        return None

    def _clear(self) -> set[str]:
        clear: set[str] | None = getattr(self._read, "clear", None)
        if clear is None:
            clear = self._read.clear = set()
        return clear

    def failed(self, key: str) -> None:
        self._clear().discard(key)
        try:
            cache.add(_count_key(key), 0, timeout=COUNT_SECONDS)
            count = cache.incr(_count_key(key))
            cache.touch(_count_key(key), COUNT_SECONDS)
        except ValueError:
            return  # the cache is unreachable (or the count expired in between): no cooldown
        except Exception:
            log.warning("cooldown count not written for %s", key, exc_info=True)
            return
        if count >= settings.FALLBACK_FAILURES_BEFORE_COOLDOWN:
            seconds = settings.FALLBACK_COOLDOWN_SECONDS
            try:
                cache.set(_until_key(key), time.time() + seconds, timeout=max(1, int(seconds)))
            except Exception:
                log.warning("cooldown not written for %s", key, exc_info=True)

    def succeeded(self, key: str) -> None:
        clear = self._clear()
        if key in clear:
            clear.discard(key)
            return  # this call found no count and no cooldown: nothing to end
        self.reset(key)

    def reset(self, key: str) -> None:
        """The count starts again and any cooldown ends, whatever this thread read."""
        try:
            cache.delete_many([_count_key(key), _until_key(key)])
        except Exception:
            log.warning("cooldown not reset for %s", key, exc_info=True)


store = Store()


def state_of(pk: int) -> State:
    """What the pages show for one integration."""
    key = str(pk)
    try:
        values = cache.get_many([_count_key(key), _until_key(key)])
    except Exception:
        values = {}
    failures = values.get(_count_key(key)) or 0
    until = values.get(_until_key(key))
    cooling = float(until) if isinstance(until, (int, float)) and until > time.time() else None
    return State(int(failures) if isinstance(failures, int) else 0, cooling)


def reset(pk: int) -> None:
    """The integration answered (a health canary): take it back at once."""
    store.reset(str(pk))
