"""The browser benchmark's plain boto3 side finds the first text of a response stream."""

import json

from bench.browser_latency import text_of_chunk


def chunk(payload: dict) -> dict:
    return {"chunk": {"bytes": json.dumps(payload).encode()}}


def test_only_a_chunk_with_words_counts_as_the_first_text():
    assert text_of_chunk(chunk({"type": "message_start", "message": {"content": []}})) == ""
    assert text_of_chunk(chunk({"type": "content_block_start", "index": 0})) == ""
    assert text_of_chunk(chunk({"type": "message_delta", "delta": {"stop_reason": "x"}})) == ""
    delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hello"}}
    assert text_of_chunk(chunk(delta)) == "Hello"
    assert text_of_chunk({"internalServerException": {"message": "boom"}}) == ""
