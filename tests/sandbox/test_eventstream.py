"""The sandbox's event-stream framing, read back by botocore's own parser."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer, EventStreamMessage

from sandbox import eventstream


def _parse(data: bytes, piece: int | None = None) -> list[EventStreamMessage]:
    """Feed ``data`` to botocore's buffer whole, or ``piece`` bytes at a time."""
    buffer = EventStreamBuffer()
    messages: list[EventStreamMessage] = []
    step = piece or len(data)
    for start in range(0, len(data), step):
        buffer.add_data(data[start : start + step])
        messages.extend(buffer)
    return messages


def test_an_event_round_trips_through_botocore() -> None:
    frame = eventstream.event("contentBlockDelta", {"delta": {"text": "Hé"}, "index": 0})
    (message,) = _parse(frame)
    assert message.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    payload = json.loads(message.payload)
    assert payload["delta"] == {"text": "Hé"} and payload["index"] == 0
    assert 1 <= len(payload["p"]) <= 64  # Bedrock's filler
    assert message.prelude.total_length == len(frame)
    assert message.to_response_dict()["status_code"] == 200


def test_the_prelude_and_both_checksums_are_what_the_format_says() -> None:
    frame = eventstream.encode_message([(":event-type", "chunk")], b'{"bytes":"e30="}')
    total, headers_length, prelude_crc = struct.unpack(">III", frame[:12])
    assert total == len(frame)
    assert headers_length == 1 + len(":event-type") + 1 + 2 + len("chunk")
    assert prelude_crc == zlib.crc32(frame[:8])
    assert struct.unpack(">I", frame[-4:])[0] == zlib.crc32(frame[:-4])
    assert frame[12 + headers_length : -4] == b'{"bytes":"e30="}'


def test_an_exception_is_an_error_to_botocore() -> None:
    frame = eventstream.exception("throttlingException", {"message": "slow down"})
    (message,) = _parse(frame)
    assert message.headers[":message-type"] == "exception"
    assert message.headers[":exception-type"] == "throttlingException"
    assert message.to_response_dict()["status_code"] == 400
    assert json.loads(message.payload) == {"message": "slow down"}


def test_a_stream_read_byte_by_byte_gives_the_same_messages() -> None:
    frames = [eventstream.event("messageStart", {"role": "assistant"})]
    frames += [eventstream.event("contentBlockDelta", {"text": f" w{i}"}) for i in range(20)]
    data = b"".join(frames)
    whole = [(m.headers, m.payload) for m in _parse(data)]
    assert len(whole) == 21
    assert [(m.headers, m.payload) for m in _parse(data, piece=1)] == whole
    assert [(m.headers, m.payload) for m in _parse(data, piece=7)] == whole


@pytest.mark.parametrize("where", [3, 9, 20, -10, -2])
def test_a_flipped_byte_fails_a_checksum(where: int) -> None:
    frame = bytearray(eventstream.event("chunk", {"bytes": "eyJhIjoxfQ=="}))
    frame[where] ^= 0x01
    with pytest.raises(ChecksumMismatch):
        _parse(bytes(frame))


def test_limits_of_the_format_are_refused() -> None:
    with pytest.raises(ValueError, match="header name"):
        eventstream.encode_message([("", "x")], b"")
    with pytest.raises(ValueError, match="65535"):
        eventstream.encode_message([("name", "x" * 70_000)], b"")
