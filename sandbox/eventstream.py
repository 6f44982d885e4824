"""AWS event-stream framing (``application/vnd.amazon.eventstream``), as Bedrock streams it.

Each message on the wire is::

    total length (uint32) | headers length (uint32) | prelude CRC32 (uint32)
    headers: name length (uint8), name, value type (uint8, 7 = string), value length (uint16), value
    payload
    message CRC32 (uint32, over everything before it)

All integers are big-endian; both CRCs are plain CRC32 (``zlib.crc32``), the message CRC covering
the prelude including its CRC. Bedrock's events carry ``:event-type``, ``:content-type`` and
``:message-type: event``; errors inside a stream carry ``:exception-type`` and
``:message-type: exception``. Every JSON payload also carries ``p``, a filler of varying length
Bedrock adds so that the size of an event does not give its content away.
"""

from __future__ import annotations

import json
import secrets
import string
import struct
import zlib
from collections.abc import Sequence
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"
PAYLOAD_CONTENT_TYPE = "application/json"
PRELUDE_LENGTH = 12
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 16 * 1024 * 1024
_STRING = 7
_PAD_ALPHABET = string.ascii_letters + string.digits


def encode_message(headers: Sequence[tuple[str, str]], payload: bytes) -> bytes:
    """One event-stream message with string-valued headers, in header order."""
    encoded_headers = b"".join(_encode_header(name, value) for name, value in headers)
    if len(encoded_headers) > MAX_HEADERS_LENGTH:
        raise ValueError("event-stream headers over 128 KiB")
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise ValueError("event-stream payload over 16 MiB")
    total = PRELUDE_LENGTH + len(encoded_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded_headers + payload
    return message + struct.pack(">I", zlib.crc32(message) & 0xFFFFFFFF)


def _encode_header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    if not 0 < len(raw_name) < 256:
        raise ValueError(f"event-stream header name of {len(raw_name)} bytes")
    if len(raw_value) > 0xFFFF:
        raise ValueError("event-stream header value over 65535 bytes")
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", _STRING, len(raw_value))
        + raw_value
    )


def event(event_type: str, data: dict[str, Any]) -> bytes:
    """An ``event`` message whose JSON payload is ``data`` plus Bedrock's ``p`` filler."""
    headers = (
        (":event-type", event_type),
        (":content-type", PAYLOAD_CONTENT_TYPE),
        (":message-type", "event"),
    )
    return encode_message(headers, _json_payload(data))


def exception(exception_type: str, data: dict[str, Any]) -> bytes:
    """An ``exception`` message: an error that ends a stream after its HTTP 200 was sent."""
    headers = (
        (":exception-type", exception_type),
        (":content-type", PAYLOAD_CONTENT_TYPE),
        (":message-type", "exception"),
    )
    return encode_message(headers, json.dumps(data, separators=(",", ":")).encode())


def _json_payload(data: dict[str, Any]) -> bytes:
    padded = {**data, "p": padding()}
    return json.dumps(padded, separators=(",", ":")).encode()


def padding() -> str:
    """Filler of 1 to 64 characters, like the ``p`` field Bedrock adds to each event."""
    return "".join(secrets.choice(_PAD_ALPHABET) for _ in range(1 + secrets.randbelow(64)))
