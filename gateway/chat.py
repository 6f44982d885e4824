"""OpenAI chat completions <-> Converse: the rules of what a request may hold, and the answers.

One place for the gateway's validation: a request that asks for something the console does not
do (tools, several choices, log probabilities, images...) is refused with the parameter it is
about, never served with the parameter dropped. Pure Python: no Django, no boto3.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from bedrock import rules
from bedrock.values import InvalidValue, echo


class ChatError(Exception):
    """A request the gateway refuses (400), in OpenAI's terms: a message and the parameter."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


# Accepted, and translated to Converse.
ACCEPTED: Final = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "stream",
        "stream_options",
        "user",
        # Accepted only with the value that asks for nothing more than the rest does.
        "n",
        "logprobs",
        "response_format",
    }
)
# Known to OpenAI's API, not served here: refused by name, with what to do instead.
UNSUPPORTED: Final = {
    "tools": "Tools (function calling) are not supported by this gateway.",
    "tool_choice": "Tools (function calling) are not supported by this gateway.",
    "functions": "Functions (function calling) are not supported by this gateway.",
    "function_call": "Functions (function calling) are not supported by this gateway.",
    "parallel_tool_calls": "Tools (function calling) are not supported by this gateway.",
    "top_logprobs": "Log probabilities are not supported by this gateway.",
    "logit_bias": "logit_bias is not supported by Bedrock models.",
    "frequency_penalty": "frequency_penalty is not supported by this gateway.",
    "presence_penalty": "presence_penalty is not supported by this gateway.",
    "seed": "seed is not supported by this gateway.",
    "audio": "Audio output is not supported by this gateway.",
    "modalities": "Only text output is supported by this gateway.",
    "prediction": "Predicted outputs are not supported by this gateway.",
    "reasoning_effort": "reasoning_effort is not supported by this gateway.",
    "service_tier": "service_tier is not supported by this gateway.",
    "store": "Stored completions are not supported by this gateway.",
    "metadata": "metadata is not supported by this gateway.",
    "web_search_options": "Web search is not supported by this gateway.",
}
ROLES: Final = ("system", "developer", "user", "assistant")
MAX_STOP: Final = 4
MAX_USER_CHARS: Final = 256  # Converse requestMetadata values

# Converse's stop reason -> chat completions' finish_reason.
FINISH_REASONS: Final = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
    "tool_use": "tool_calls",
}


@dataclass(frozen=True)
class ChatRequest:
    """A checked chat completions request: which model, the Converse request, how to answer."""

    model: str
    converse: dict[str, Any]
    stream: bool = False
    include_usage: bool = False
    user: str = ""


def _given(body: dict[str, Any], name: str) -> bool:
    # OpenAI's API reads null as "not given" for optional parameters; so does the gateway.
    return body.get(name) is not None


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), "null")


def _integer(body: dict[str, Any], name: str) -> int | None:
    if not _given(body, name):
        return None
    value = body[name]
    if not rules.whole_number(value, 1, rules.MAX_TOKENS):
        raise ChatError(f"{name} must be a whole number from 1 to {rules.MAX_TOKENS}.", name)
    return value


def _number(body: dict[str, Any], name: str, high: float, note: str = "") -> float | None:
    if not _given(body, name):
        return None
    value = body[name]
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ChatError(f"{name} must be a number, not {_type_name(value)}.", name)
    if not 0 <= value <= high:
        raise ChatError(f"{name} must be from 0 to {high:g}{note} (got {value}).", name)
    return value


def _flag(body: dict[str, Any], name: str) -> bool:
    if not _given(body, name):
        return False
    if not isinstance(body[name], bool):
        raise ChatError(f"{name} must be true or false, not {_type_name(body[name])}.", name)
    return bool(body[name])


def _text_of(content: Any, where: str) -> list[str]:
    """A message's content as texts: a string, or a list of text parts."""
    if isinstance(content, str):
        if not content.strip():
            raise ChatError(f"{where} is empty: send the message's text.", where)
        return [content]
    if not isinstance(content, list) or not content:
        raise ChatError(
            f"{where} must be a string or a non-empty array of text parts "
            '({"type": "text", "text": "..."}).',
            where,
        )
    texts = []
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("image_url", "input_image", "input_audio", "file", "refusal"):
            raise ChatError(
                f"Only text content is supported: {kind} parts are not supported by this gateway.",
                at,
            )
        if kind != "text" or not isinstance(part.get("text"), str):
            raise ChatError(f'{at} must be a text part: {{"type": "text", "text": "..."}}.', at)
        extra = sorted(set(part) - {"type", "text"})
        if extra:
            raise ChatError(f"{at} has an unsupported field: {echo(extra[0], 40)}.", at)
        if part["text"].strip():
            texts.append(part["text"])
    if not texts:
        raise ChatError(f"{where} holds no text.", where)
    return texts


def _messages(value: Any) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """OpenAI messages -> Converse messages (same-role neighbours joined) and system blocks."""
    if not isinstance(value, list) or not value:
        raise ChatError(
            'messages must be a non-empty array such as [{"role": "user", "content": "Hello"}].',
            "messages",
        )
    system: list[dict[str, str]] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise ChatError(f'{where} must be an object with "role" and "content".', where)
        role = message.get("role")
        if role in ("tool", "function"):
            raise ChatError(
                f"{where}: messages with role {role} are not supported (no tools in this gateway).",
                f"{where}.role",
            )
        if role not in ROLES:
            raise ChatError(
                f"{where}.role must be one of system, developer, user, assistant.",
                f"{where}.role",
            )
        for name in ("tool_calls", "function_call", "audio"):
            if message.get(name) is not None:
                raise ChatError(
                    f"{where}.{name} is not supported by this gateway.", f"{where}.{name}"
                )
        extra = sorted(set(message) - {"role", "content", "tool_calls", "function_call", "audio"})
        if extra:
            raise ChatError(
                f"{where} has an unsupported field: {echo(extra[0], 40)}.",
                f"{where}.{extra[0][:100]}",
            )
        texts = _text_of(message.get("content"), f"{where}.content")
        if role in ("system", "developer"):
            system.extend({"text": t} for t in texts)
            continue
        blocks = [{"text": t} for t in texts]
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if not turns or turns[0]["role"] != "user":
        raise ChatError(
            "The conversation must start with a user message (after any system messages).",
            "messages",
        )
    return turns, system


def _stop(value: Any) -> list[str]:
    stops = [value] if isinstance(value, str) else value
    if not (
        isinstance(stops, list)
        and 0 < len(stops) <= MAX_STOP
        and all(isinstance(s, str) and s for s in stops)
    ):
        raise ChatError(
            f"stop must be a non-empty string or an array of 1 to {MAX_STOP} of them.", "stop"
        )
    return stops


def _refuse_the_unsupported(body: dict[str, Any]) -> None:
    for name, message in UNSUPPORTED.items():
        if _given(body, name):
            raise ChatError(message, name, "unsupported_parameter")
    unknown = sorted(set(body) - ACCEPTED - set(UNSUPPORTED))
    if unknown:
        raise ChatError(
            f"Unrecognized request argument supplied: {echo(unknown[0], 40)}.", unknown[0][:100]
        )
    if _given(body, "n") and body["n"] != 1:
        raise ChatError("Only n = 1 is supported (one choice per request).", "n")
    if _flag(body, "logprobs"):
        raise ChatError("Log probabilities are not supported by this gateway.", "logprobs")
    response_format = body.get("response_format")
    if response_format is not None and response_format != {"type": "text"}:
        raise ChatError(
            'Only response_format {"type": "text"} is supported by this gateway.',
            "response_format",
        )


def parse(body: Any) -> ChatRequest:
    """A chat completions request body (parsed JSON) checked and translated; ChatError."""
    if not isinstance(body, dict):
        raise ChatError("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ChatError("model must be the API model name of an integration.", "model")
    _refuse_the_unsupported(body)
    messages, system = _messages(body.get("messages"))

    config: dict[str, Any] = {}
    max_tokens = _integer(body, "max_tokens")
    max_completion = _integer(body, "max_completion_tokens")
    if max_tokens and max_completion and max_tokens != max_completion:
        raise ChatError(
            "Send max_tokens or max_completion_tokens, not both with different values.",
            "max_tokens",
        )
    if max_tokens or max_completion:
        config["maxTokens"] = max_completion or max_tokens
    temperature = _number(body, "temperature", 1.0, " on Bedrock models")
    if temperature is not None:
        config["temperature"] = temperature
    top_p = _number(body, "top_p", 1.0)
    if top_p is not None:
        config["topP"] = top_p
    if _given(body, "stop"):
        config["stopSequences"] = _stop(body["stop"])

    stream = _flag(body, "stream")
    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if not stream:
            raise ChatError("stream_options is only allowed with stream: true.", "stream_options")
        if not isinstance(options, dict) or set(options) - {"include_usage"}:
            raise ChatError(
                'stream_options may hold only {"include_usage": true|false}.', "stream_options"
            )
        include_usage = _flag(options, "include_usage")

    user = body.get("user")
    if user is not None and (not isinstance(user, str) or len(user) > MAX_USER_CHARS):
        raise ChatError(f"user must be a string of at most {MAX_USER_CHARS} characters.", "user")

    converse: dict[str, Any] = {"messages": messages}
    if system:
        converse["system"] = system
    if config:
        converse["inferenceConfig"] = config
    if user:
        # Bedrock writes it into the model invocation logs, as OpenAI keeps it for abuse checks.
        converse["requestMetadata"] = {"user": user}
    try:
        rules.converse_request(converse)  # the one set of Converse rules, as for every caller
    except InvalidValue as e:
        raise ChatError(str(e), "messages") from None
    return ChatRequest(model.strip(), converse, stream, include_usage, user or "")


# --- answers ----------------------------------------------------------------------------------


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "", "stop")


def usage(input_tokens: int | None, output_tokens: int | None) -> dict[str, int]:
    prompt, completion = input_tokens or 0, output_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@dataclass
class Answer:
    """One answer's identity, shared by the plain answer or by every chunk of a stream."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))

    def completion(
        self, text: str, stop_reason: str | None, tokens: dict[str, int]
    ) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason(stop_reason),
                }
            ],
            "usage": tokens,
            "system_fingerprint": None,
        }

    def chunk(
        self,
        delta: dict[str, Any] | None = None,
        finish: str | None = None,
        tokens: dict[str, int] | None = None,
        include_usage: bool = False,
    ) -> dict[str, Any]:
        """A chat.completion.chunk: a delta, the finish reason, or (no choices) the usage."""
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": []
            if tokens is not None
            else [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            # With stream_options.include_usage every chunk carries usage: null but the last.
            chunk["usage"] = tokens
        return chunk
