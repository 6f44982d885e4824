"""InvokeModelWithResponseStream: each family's own streaming chunks, word by word.

Every chunk is the JSON a family's model streams on Bedrock; the last one also carries
``amazon-bedrock-invocationMetrics`` (added when it is sent, see ``streams.chunk_encoder``).

Sources: Anthropic's Messages streaming events (message_start ... message_stop) and Nova's
(messageStart ... metadata) are documented by Anthropic and AWS; Llama's (generation,
prompt_token_count on the first chunk, generation_token_count, stop_reason), Mistral's
(outputs[].text, stop_reason), Titan's (outputText, index, totalOutputTextTokenCount,
completionReason, inputTextTokenCount) and Cohere Command R's (stream-start, text-generation,
stream-end with the whole response) follow AWS's examples and the models' own APIs. AI21 Jamba's
OpenAI-style ``choices[].delta`` chunks are plausible rather than documented. Where a family's
stream ends, the sandbox always sends a final chunk without text (the stop reason and metrics),
so a fault can strike after the last word and before the end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from .generation import Generation
from .models import ModelRef, answer, model_name, stop_reason
from .streams import DELTA, HEAD, TAIL, StreamEvent


def invoke_stream_events(family: str, gen: Generation, ref: ModelRef) -> list[StreamEvent]:
    return _BUILDERS[family](gen, ref)


def _anthropic(gen: Generation, ref: ModelRef) -> list[StreamEvent]:
    message: dict[str, Any] = {
        "id": "msg_bdrk_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": model_name(ref),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": gen.input_tokens, "output_tokens": 1},
    }
    return [
        _chunk({"type": "message_start", "message": message}, HEAD),
        _chunk(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            HEAD,
        ),
        *(
            _chunk(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                }
            )
            for piece in gen.pieces
        ),
        _chunk({"type": "content_block_stop", "index": 0}, TAIL),
        _chunk(
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": stop_reason("anthropic", gen),
                    "stop_sequence": gen.stop_sequence,
                },
                "usage": {"output_tokens": gen.output_tokens},
            },
            TAIL,
        ),
        _chunk({"type": "message_stop"}, TAIL, last=True),
    ]


def _nova(gen: Generation, ref: ModelRef) -> list[StreamEvent]:
    tokens = {"inputTokens": gen.input_tokens, "outputTokens": gen.output_tokens}
    return [
        _chunk({"messageStart": {"role": "assistant"}}, HEAD),
        *(
            _chunk({"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": 0}})
            for piece in gen.pieces
        ),
        _chunk({"contentBlockStop": {"contentBlockIndex": 0}}, TAIL),
        _chunk({"messageStop": {"stopReason": stop_reason("nova", gen)}}, TAIL),
        _chunk({"metadata": {"usage": tokens, "metrics": {}, "trace": {}}}, TAIL, last=True),
    ]


def _titan(gen: Generation, ref: ModelRef) -> list[StreamEvent]:
    def chunk(text: str, count: int, reason: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "outputText": text,
            "index": 0,
            "totalOutputTextTokenCount": count,
            "completionReason": reason,
        }
        if count <= 1:
            data["inputTextTokenCount"] = gen.input_tokens
        return data

    return [
        *(_chunk(chunk(piece, n, None)) for n, piece in enumerate(gen.pieces, start=1)),
        _chunk(chunk("", gen.output_tokens, stop_reason("titan", gen)), TAIL, last=True),
    ]


def _llama(gen: Generation, ref: ModelRef) -> list[StreamEvent]:
    def chunk(text: str, count: int, reason: str | None) -> dict[str, Any]:
        prompt_tokens = gen.input_tokens if count == 1 else None
        return {
            "generation": text,
            "prompt_token_count": prompt_tokens,
            "generation_token_count": count,
            "stop_reason": reason,
        }

    return [
        *(_chunk(chunk(piece, n, None)) for n, piece in enumerate(gen.pieces, start=1)),
        _chunk(chunk("", gen.output_tokens, stop_reason("llama", gen)), TAIL, last=True),
    ]


def _mistral(gen: Generation, ref: ModelRef) -> list[StreamEvent]:
    return [
        *(_chunk({"outputs": [{"text": piece, "stop_reason": None}]}) for piece in gen.pieces),
        _chunk(
            {"outputs": [{"text": "", "stop_reason": stop_reason("mistral", gen)}]}, TAIL, last=True
        ),
    ]


def _cohere(gen: Generation, ref: ModelRef) -> list[StreamEvent]:
    response = answer("cohere", gen, ref)
    start = {
        "is_finished": False,
        "event_type": "stream-start",
        "generation_id": response["generation_id"],
    }
    end = {
        "is_finished": True,
        "event_type": "stream-end",
        "response": response,
        "finish_reason": response["finish_reason"],
    }
    return [
        _chunk(start, HEAD),
        *(
            _chunk({"is_finished": False, "event_type": "text-generation", "text": piece})
            for piece in gen.pieces
        ),
        _chunk(end, TAIL, last=True),
    ]


def _jamba(gen: Generation, ref: ModelRef) -> list[StreamEvent]:
    envelope = {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model_name(ref),
    }

    def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        return {**envelope, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}

    tin, tout = gen.input_tokens, gen.output_tokens
    final = chunk({}, stop_reason("jamba", gen))
    final["usage"] = {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout}
    return [
        _chunk(chunk({"role": "assistant", "content": ""}), HEAD),
        *(_chunk(chunk({"content": piece})) for piece in gen.pieces),
        _chunk(final, TAIL, last=True),
    ]


def _chunk(payload: dict[str, Any], phase: str = DELTA, *, last: bool = False) -> StreamEvent:
    return StreamEvent("chunk", payload, phase, last)


_BUILDERS: dict[str, Callable[[Generation, ModelRef], list[StreamEvent]]] = {
    "anthropic": _anthropic,
    "nova": _nova,
    "titan": _titan,
    "llama": _llama,
    "mistral": _mistral,
    "cohere": _cohere,
    "jamba": _jamba,
}
