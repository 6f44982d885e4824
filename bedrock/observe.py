"""What every model call tells those who keep a record of it (usage records, metrics).

The invocation core calls `notify(context, outcome)` once per model call, after the answer is known,
whoever made the call. Apps that keep records register an observer at start-up
(`add_observer` in their `AppConfig.ready`); the core itself knows no models. An observer that
raises is logged and never changes the call's answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

# The kinds of call; a new entry point adds its own.
CONNECTION_TEST = "connection_test"
PROMPT_TEST = "prompt_test"
DRAFT_TEST = "draft_test"
INVOKE_API = "invoke_api"
CHAT_COMPLETIONS = "chat_completions"  # the OpenAI-compatible API (gateway/)
CANARY = "canary"


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who made a call, and for what."""

    kind: str
    integration_id: int | None
    prompt_id: int | None = None
    version_id: int | None = None
    feature: str = ""
    user_id: int | None = None
    token_id: int | None = None
    test_id: int | None = None
    # Bodies are passed only when the caller's prompt opted in to keeping them.
    keep_bodies: bool = False


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What happened: the figures a record keeps. Times in milliseconds; None when not reached."""

    ok: bool
    error_code: str = ""
    http_status: int | None = None
    total_ms: float | None = None
    sts_ms: float | None = None
    model_ms: float | None = None
    first_token_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    request_id: str = ""
    credentials_reused: bool | None = None
    request_body: str | None = None
    response_body: str | None = None


Observer = Callable[[CallContext, CallOutcome], None]
_observers: list[Observer] = []


def add_observer(observer: Observer) -> None:
    if observer not in _observers:
        _observers.append(observer)


def remove_observer(observer: Observer) -> None:
    if observer in _observers:
        _observers.remove(observer)


def notify(context: CallContext, outcome: CallOutcome) -> None:
    held = getattr(_held, "calls", None)
    if held is not None:
        held.append((context, outcome))
        return
    _deliver(context, outcome)


def _deliver(context: CallContext, outcome: CallOutcome) -> None:
    for observer in tuple(_observers):
        try:
            observer(context, outcome)
        except Exception:
            log.exception("call observer %r failed", observer)


# --- calls made on a helper thread ------------------------------------------------------

_held = threading.local()
Held = list[tuple[CallContext, CallOutcome]]


@contextmanager
def held() -> Iterator[Held]:
    """Keep the notifications made in this thread, for the thread that waits on it to deliver.

    A caller that runs the call on a helper thread (to stop waiting at its own timeout) wraps
    the call in `held()` there and passes what it kept to `deliver()` in its own thread: the
    observers then write with that thread's database connection and transaction, before
    its answer is sent.
    """
    calls: Held = []
    _held.calls = calls
    try:
        yield calls
    finally:
        _held.calls = None


def deliver(calls: Held) -> None:
    for context, outcome in calls:
        _deliver(context, outcome)
