"""What a service handler hands back to the HTTP layer, and the request it gets."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"


@dataclass(slots=True)
class SandboxRequest:
    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, Sequence[str]]  # lower-case name -> values, as received
    body: bytes
    started: float  # time.perf_counter() when the request line was read
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class StreamReply:
    """A large body produced in chunks, so it is never held in memory whole."""

    status: int
    length: int
    chunks: Callable[[], Iterator[bytes]]
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Drip:
    """Send ``reply``'s status and headers now, then its body one byte per interval."""

    reply: Reply
    interval_seconds: float


@dataclass(slots=True)
class Hang:
    """Keep the connection open without answering, then close it."""

    seconds: float


@dataclass(slots=True)
class Close:
    """Close the socket without answering (or, among an event stream's frames, at once)."""


@dataclass(slots=True)
class EventStreamReply:
    """Status and head now, then each frame as ``frames`` produces it (chunked encoding).

    The frames are produced lazily, while the server sends them: pacing and the metrics in the
    last event happen in real time. A ``Close`` among them drops the connection mid-stream.
    """

    frames: Iterator[bytes | Close]
    headers: dict[str, str]
    status: int = 200
    content_type: str = "application/vnd.amazon.eventstream"


Outcome = Reply | StreamReply | Drip | Hang | Close | EventStreamReply


class ApiError(Exception):
    """An AWS-style error; each service renders it in its own protocol."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.message = message


def json_reply(status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(data, separators=(",", ":")).encode()
    return Reply(status, body, JSON, headers or {})
