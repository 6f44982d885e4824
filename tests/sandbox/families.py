"""The seven model families as a client sees them: native bodies, answers and stream chunks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class Family:
    name: str
    model_id: str
    body: Callable[[str, int, list[str]], Json]  # user text, max tokens, stop sequences
    text: Callable[[Json], str]  # InvokeModel's answer -> its text
    stop: Callable[[Json], str]  # InvokeModel's answer -> its stop reason
    chunk_text: Callable[[Json], str]  # a streamed chunk -> the text it adds
    chunk_stop: Callable[[Json], str | None]  # a streamed chunk -> the stop reason it carries
    stop_names: tuple[str, str, str]  # the family's end_turn, max_tokens, stop_sequence
    has_stop_sequences: bool = True

    def __str__(self) -> str:
        return self.name


def _first(items: Any) -> Json:
    return items[0] if isinstance(items, list) and items else {}


def _anthropic_chunk_text(chunk: Json) -> str:
    if chunk.get("type") != "content_block_delta":
        return ""
    return str(chunk["delta"]["text"])


def _nova_chunk_text(chunk: Json) -> str:
    return str(chunk.get("contentBlockDelta", {}).get("delta", {}).get("text", ""))


FAMILIES = [
    Family(
        "anthropic",
        "anthropic.claude-3-haiku-20240307-v1:0",
        lambda text, limit, stops: {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": limit,
            "stop_sequences": stops,
            "messages": [{"role": "user", "content": text}],
        },
        lambda a: a["content"][0]["text"],
        lambda a: a["stop_reason"],
        _anthropic_chunk_text,
        lambda c: c["delta"]["stop_reason"] if c.get("type") == "message_delta" else None,
        ("end_turn", "max_tokens", "stop_sequence"),
    ),
    Family(
        "nova",
        "amazon.nova-lite-v1:0",
        lambda text, limit, stops: {
            "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": limit, "stopSequences": stops},
        },
        lambda a: a["output"]["message"]["content"][0]["text"],
        lambda a: a["stopReason"],
        _nova_chunk_text,
        lambda c: c.get("messageStop", {}).get("stopReason"),
        ("end_turn", "max_tokens", "stop_sequence"),
    ),
    Family(
        "titan",
        "amazon.titan-text-express-v1",
        lambda text, limit, stops: {
            "inputText": f"User: {text}\nBot:",
            "textGenerationConfig": {"maxTokenCount": limit, "stopSequences": stops},
        },
        lambda a: a["results"][0]["outputText"],
        lambda a: a["results"][0]["completionReason"],
        lambda c: c["outputText"],
        lambda c: c["completionReason"],
        ("FINISH", "LENGTH", "STOP_CRITERIA_MET"),
    ),
    Family(
        "llama",
        "meta.llama3-8b-instruct-v1:0",
        lambda text, limit, stops: {
            "prompt": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
            f"{text}<|eot_id|><|start_header_id|>assistant<|end_header_id|>",
            "max_gen_len": limit,
        },
        lambda a: a["generation"],
        lambda a: a["stop_reason"],
        lambda c: c["generation"],
        lambda c: c["stop_reason"],
        ("stop", "length", "stop"),
        has_stop_sequences=False,
    ),
    Family(
        "mistral",
        "mistral.mistral-7b-instruct-v0:2",
        lambda text, limit, stops: {
            "prompt": f"<s>[INST] {text} [/INST]",
            "max_tokens": limit,
            "stop": stops,
        },
        lambda a: a["outputs"][0]["text"],
        lambda a: a["outputs"][0]["stop_reason"],
        lambda c: _first(c["outputs"])["text"],
        lambda c: _first(c["outputs"])["stop_reason"],
        ("stop", "length", "stop"),
    ),
    Family(
        "cohere",
        "cohere.command-r-v1:0",
        lambda text, limit, stops: {"message": text, "max_tokens": limit, "stop_sequences": stops},
        lambda a: a["text"],
        lambda a: a["finish_reason"],
        lambda c: c["text"] if c["event_type"] == "text-generation" else "",
        lambda c: c.get("finish_reason"),
        ("COMPLETE", "MAX_TOKENS", "STOP_SEQUENCE"),
    ),
    Family(
        "jamba",
        "ai21.jamba-1-5-mini-v1:0",
        lambda text, limit, stops: {
            "messages": [{"role": "user", "content": text}],
            "max_tokens": limit,
            "stop": stops,
        },
        lambda a: a["choices"][0]["message"]["content"],
        lambda a: a["choices"][0]["finish_reason"],
        lambda c: _first(c["choices"])["delta"].get("content", ""),
        lambda c: _first(c["choices"])["finish_reason"],
        ("stop", "length", "stop"),
    ),
]
