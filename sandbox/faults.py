"""Turning an injected fault into what the HTTP layer does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .replies import ApiError, Close, Drip, EventStreamReply, Hang, Outcome, Reply, StreamReply
from .state import Fault, SandboxState

HTML_BODY = (
    b"<!DOCTYPE html><html><head><title>Gateway</title></head><body>"
    b"<h1>Service temporarily unavailable</h1><p>Bedrock sandbox non_json fault.</p>"
    b"</body></html>"
)
_HUGE_PREFIX = (
    b'{"id":"msg_sandbox_huge","type":"message","role":"assistant",'
    b'"content":[{"type":"text","text":"'
)
_HUGE_SUFFIX = (
    b'"}],"stop_reason":"end_turn","stop_sequence":null,'
    b'"usage":{"input_tokens":0,"output_tokens":0}}'
)
# Built once: the huge body streams slices of this block instead of allocating megabytes.
_FILLER = b"a" * (256 * 1024)


@dataclass(frozen=True, slots=True)
class FaultProfile:
    """The per-service errors that fault modes stand for."""

    throttle: ApiError
    expired: ApiError
    error_code: str
    error_status: int
    error_message: str


Normal = Callable[[], Reply | EventStreamReply]


def apply_fault(
    fault: Fault, state: SandboxState, profile: FaultProfile, normal: Normal
) -> Outcome:
    """The outcome of ``fault``; ``normal`` renders the regular answer (errors included)."""
    mode = fault.mode
    if mode == "delay":
        state.wait(fault.ms / 1000)
        return normal()
    if mode == "throttle":
        raise profile.throttle
    if mode == "expired_once":
        raise profile.expired
    if mode == "error":
        raise ApiError(
            fault.code or profile.error_code,
            fault.status or profile.error_status,
            fault.message or profile.error_message,
        )
    return _transport_fault(fault, normal)


def _transport_fault(fault: Fault, normal: Normal) -> Outcome:
    mode = fault.mode
    if mode == "hang":
        return Hang(fault.seconds)
    if mode == "close":
        return Close()
    if mode == "drip":
        reply = normal()  # a stream drips its own frames (see streams.py)
        return Drip(reply, fault.drip_interval_ms / 1000) if isinstance(reply, Reply) else reply
    if mode == "non_json":
        return Reply(200, HTML_BODY, "text/html; charset=utf-8")
    if mode == "empty_object":
        return Reply(200, b"{}")
    if mode == "huge":
        return huge_reply(fault.mb)
    raise ValueError(f"unknown fault mode {mode!r}")


def huge_reply(megabytes: float) -> StreamReply:
    total = max(int(megabytes * 1024 * 1024), len(_HUGE_PREFIX) + len(_HUGE_SUFFIX))
    filler = total - len(_HUGE_PREFIX) - len(_HUGE_SUFFIX)

    def chunks() -> Iterator[bytes]:
        yield _HUGE_PREFIX
        view = memoryview(_FILLER)
        remaining = filler
        while remaining > 0:
            size = min(remaining, len(_FILLER))
            yield view[:size].tobytes() if size < len(_FILLER) else _FILLER
            remaining -= size
        yield _HUGE_SUFFIX

    return StreamReply(200, total, chunks)
