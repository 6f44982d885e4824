"""Streamed answers: events paced in time, framed as AWS event-stream, broken by faults.

Both streaming operations describe their answer as a list of ``StreamEvent``; ``paced_reply``
turns it into an ``EventStreamReply`` whose frames are produced one at a time as the server
sends them, so latencies measured inside the stream (first byte, the whole invocation) are true
and a consumer sees each word when it is sent. Pacing and faults:

- ``interval_ms`` between events (the fault's own, else the sandbox's ``stream_interval_ms``);
- ``slow_first_byte``: the HTTP head at once, then ``ms`` before the first event;
- ``stream_error``: ``after`` text deltas, then an exception event (``code``) ends the stream;
- ``stream_cut``: ``after`` text deltas, then half of the next frame and the connection closes;
- ``drip``: every frame byte by byte, ``interval_ms`` apart.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import eventstream
from .replies import Close, EventStreamReply, SandboxRequest
from .state import Fault, SandboxState

HEAD, DELTA, TAIL = "head", "delta", "tail"
STREAM_ERROR_MESSAGES = {
    "modelStreamErrorException": "The model stopped while streaming its answer (sandbox fault).",
    "internalServerException": "The system encountered an unexpected error during processing. "
    "Try your request again.",
    "throttlingException": "Too many tokens, please wait before trying again.",
    "validationException": "The model returned a response that failed validation.",
    "serviceUnavailableException": "Bedrock is unable to process your request.",
    "modelTimeoutException": "Model has timed out in processing the request. "
    "Try your request again.",
}


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of an answer: before the text (head), a piece of it (delta), or after (tail)."""

    name: str  # ConverseStream's event type, or the chunk's own "type" for the record
    payload: dict[str, Any]
    phase: str = DELTA
    last: bool = False  # carries the invocation's metrics, filled in when it is sent


@dataclass(slots=True)
class StreamClock:
    started: float  # time.perf_counter() when the request arrived
    first_event: float | None = None

    def since_start_ms(self, at: float | None = None) -> int:
        return int(((at if at is not None else time.perf_counter()) - self.started) * 1000)

    @property
    def first_byte_ms(self) -> int:
        return self.since_start_ms(self.first_event)


Encoder = Callable[[StreamEvent, StreamClock], bytes]


@dataclass(slots=True)
class StreamPlan:
    events: Sequence[StreamEvent]
    encode: Encoder
    headers: dict[str, str] = field(default_factory=dict)


def invocation_metrics(input_tokens: int, output_tokens: int, clock: StreamClock) -> dict[str, int]:
    """``amazon-bedrock-invocationMetrics``, as the last chunk of each Bedrock stream has it."""
    return {
        "inputTokenCount": input_tokens,
        "outputTokenCount": output_tokens,
        "invocationLatency": clock.since_start_ms(),
        "firstByteLatency": clock.first_byte_ms,
    }


def chunk_encoder(input_tokens: int, output_tokens: int) -> Encoder:
    """InvokeModelWithResponseStream: each event is a ``chunk`` whose ``bytes`` is base64 JSON."""

    def encode(event: StreamEvent, clock: StreamClock) -> bytes:
        payload = event.payload
        if event.last:
            metrics = invocation_metrics(input_tokens, output_tokens, clock)
            payload = {**payload, "amazon-bedrock-invocationMetrics": metrics}
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return eventstream.event("chunk", {"bytes": base64.b64encode(raw).decode()})

    return encode


def paced_reply(
    request: SandboxRequest,
    state: SandboxState,
    plan: StreamPlan,
    fault: Fault | None,
    entry: dict[str, Any],
) -> EventStreamReply:
    headers = {"x-amzn-RequestId": request.request_id, **plan.headers}
    frames = _frames(state, plan, fault, entry, StreamClock(request.started))
    return EventStreamReply(frames, headers)


def _frames(
    state: SandboxState,
    plan: StreamPlan,
    fault: Fault | None,
    entry: dict[str, Any],
    clock: StreamClock,
) -> Iterator[bytes | Close]:
    mode = fault.mode if fault is not None else None
    interval = _interval_seconds(state, fault)
    sent, deltas = 0, 0
    ended: str | None = None  # complete, exception, cut, interrupted, client_gone or failed
    code = None
    try:
        first_wait = fault.ms / 1000 if fault is not None and mode == "slow_first_byte" else 0.0
        for event in plan.events:
            if state.wait(first_wait if sent == 0 else interval):
                ended = "interrupted"  # the sandbox was reset: drop the stream
                yield Close()
                return
            if fault is not None and _fault_due(fault, event, deltas):
                if mode == "stream_error":
                    code = fault.code or "modelStreamErrorException"
                    ended, sent = "exception", sent + 1
                    yield _exception_frame(code, fault.message)
                    return
                if mode == "stream_cut":
                    ended = "cut"
                    frame = plan.encode(event, clock)
                    yield frame[: len(frame) // 2]
                    yield Close()
                    return
            if clock.first_event is None:
                clock.first_event = time.perf_counter()
            frame = plan.encode(event, clock)
            if mode == "drip" and fault is not None:
                if not (yield from _drip(state, frame, fault.drip_interval_ms / 1000)):
                    ended = "interrupted"
                    yield Close()
                    return
            else:
                yield frame
            sent += 1
            deltas += event.phase == DELTA
        ended = "complete"
    except GeneratorExit:
        ended = ended or "client_gone"
        raise
    except Exception:
        ended = "failed"  # a sandbox bug: the server prints it and drops the connection
        raise
    finally:
        state.finish_stream(entry, sent, ended or "client_gone", code)


def _fault_due(fault: Fault, event: StreamEvent, deltas: int) -> bool:
    """A break strikes after ``after`` words, or before the end when the text is shorter."""
    return event.phase == TAIL or (event.phase == DELTA and deltas >= fault.after)


def _interval_seconds(state: SandboxState, fault: Fault | None) -> float:
    if fault is not None and fault.mode != "drip" and fault.interval_ms is not None:
        return fault.interval_ms / 1000
    return state.stream_interval_ms / 1000


def _drip(state: SandboxState, frame: bytes, seconds: float) -> Generator[bytes, None, bool]:
    """Yield ``frame`` one byte at a time; returns False if the sandbox was reset meanwhile."""
    for index in range(len(frame)):
        if index and state.wait(seconds):
            return False
        yield frame[index : index + 1]
    return True


def _exception_frame(code: str, message: str | None) -> bytes:
    text = message or STREAM_ERROR_MESSAGES.get(code, "The stream failed (sandbox fault).")
    data: dict[str, Any] = {"message": text}
    if code == "modelStreamErrorException":
        data.update(originalStatusCode=500, originalMessage=text)
    return eventstream.exception(code, data)
