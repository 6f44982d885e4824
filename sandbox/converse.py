"""Converse and ConverseStream: one request shape for every model family.

The request is validated the way Bedrock does it: shape constraints first, reported together
("2 validation errors detected: Value ... at 'inferenceConfig.temperature' failed to satisfy
constraint: ..."), then the conversation's rules (starts with a user turn, alternates, no empty
text), then what the model family supports (tool use, additionalModelRequestFields).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from .eventstream import event as encode_event
from .generation import Generation, Prompt, count_tokens, generate
from .models import malformed, usage
from .replies import ApiError
from .streams import DELTA, HEAD, TAIL, StreamClock, StreamEvent

CONTENT_BLOCK_FIELDS = frozenset(
    {
        "text",
        "image",
        "document",
        "video",
        "audio",
        "toolUse",
        "toolResult",
        "guardContent",
        "cachePoint",
        "reasoningContent",
        "citationsContent",
        "searchResult",
    }
)
SYSTEM_BLOCK_FIELDS = frozenset({"text", "guardContent", "cachePoint"})
_TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# What each family accepts in additionalModelRequestFields (passed through to the model).
ADDITIONAL_FIELDS: dict[str, frozenset[str]] = {
    "anthropic": frozenset({"top_k", "anthropic_beta", "thinking", "tool_choice"}),
    "nova": frozenset({"inferenceConfig", "reasoningConfig"}),
    "titan": frozenset(),
    "llama": frozenset(),
    "mistral": frozenset({"top_k", "safe_prompt", "random_seed"}),
    "cohere": frozenset(
        {
            "k",
            "p",
            "seed",
            "preamble",
            "documents",
            "search_queries_only",
            "prompt_truncation",
            "frequency_penalty",
            "presence_penalty",
            "return_prompt",
            "raw_prompting",
        }
    ),
    "jamba": frozenset({"n", "frequency_penalty", "presence_penalty"}),
}
NO_TOOL_USE = frozenset({"titan"})
FORCED_TOOL_CHOICE = frozenset({"anthropic", "nova"})  # toolChoice "any" and "tool"
# Families whose models need the conversation to end on a user turn (no prefill).
LAST_TURN_USER = frozenset({"titan", "llama", "mistral", "cohere", "jamba"})


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    input: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Conversation:
    prompt: Prompt
    tool_call: ToolCall | None  # set when toolChoice forces the model to call a tool


def invalid(message: str) -> ApiError:
    return ApiError("ValidationException", 400, message)


def parse(body: dict[str, Any], family: str | None) -> Conversation:
    """Validate a Converse request body for a model of ``family`` (None: a family not known)."""
    problems: list[str] = []
    messages = _messages(body.get("messages"), problems)
    system = _system(body.get("system"), problems)
    limit, stops = _inference_config(body.get("inferenceConfig"), problems)
    tool_config = body.get("toolConfig")
    tools = _tools(tool_config, problems) if tool_config is not None else None
    choice = tool_config.get("toolChoice") if isinstance(tool_config, dict) else None
    if problems:
        count = len(problems)
        noun = "validation error" if count == 1 else "validation errors"
        raise invalid(f"{count} {noun} detected: " + "; ".join(problems))
    _check_conversation(messages, family, uses_tools=tools is not None)
    tool_call = _tool_call(choice or {"auto": {}}, tools, family) if tools is not None else None
    _check_additional_fields(body.get("additionalModelRequestFields"), family)
    texts = [*system, *(_message_text(m) for m in messages)]
    last_user = next((m for m in reversed(messages) if m["role"] == "user"), None)
    user_text = _message_text(last_user) if last_user is not None else ""
    return Conversation(Prompt(" ".join(texts), user_text, limit, stops), tool_call)


# -- shape -----------------------------------------------------------------------------------


def _constraint(value: Any, path: str, rule: str) -> str:
    shown = value if isinstance(value, str) else json.dumps(value)
    return f"Value '{shown}' at '{path}' failed to satisfy constraint: Member must {rule}"


def _messages(value: Any, problems: list[str]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(_constraint(value, "messages", "be a list of Message objects"))
        return []
    for index, message in enumerate(value, start=1):
        path = f"messages.{index}.member"
        if not isinstance(message, dict):
            problems.append(_constraint(message, path, "be a Message object"))
            continue
        if message.get("role") not in ("user", "assistant"):
            rule = "satisfy enum value set: [user, assistant]"
            problems.append(_constraint(message.get("role"), f"{path}.role", rule))
        content = message.get("content")
        if not isinstance(content, list):
            problems.append(_constraint(content, f"{path}.content", "not be null"))
            continue
        for position, block in enumerate(content, start=1):
            _one_of(block, CONTENT_BLOCK_FIELDS, f"{path}.content.{position}.member", problems)
    return [m for m in value if isinstance(m, dict)]


def _one_of(block: Any, fields: frozenset[str], path: str, problems: list[str]) -> None:
    keys = set(block) & fields if isinstance(block, dict) else set()
    if not isinstance(block, dict) or len(keys) != 1 or len(block) != 1:
        names = ", ".join(sorted(fields))
        problems.append(_constraint(block, path, f"have exactly one of these fields: {names}"))


def _system(value: Any, problems: list[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(_constraint(value, "system", "be a list of SystemContentBlock objects"))
        return []
    texts = []
    for index, block in enumerate(value, start=1):
        path = f"system.{index}.member"
        _one_of(block, SYSTEM_BLOCK_FIELDS, path, problems)
        if not isinstance(block, dict) or "text" not in block:
            continue
        text = block["text"]
        if isinstance(text, str) and text:
            texts.append(text)
        else:
            rule = "have length greater than or equal to 1"
            problems.append(_constraint(text, f"{path}.text", rule))
    return texts


def _inference_config(value: Any, problems: list[str]) -> tuple[int | None, tuple[str, ...]]:
    if value is None:
        return None, ()
    if not isinstance(value, dict):
        problems.append(_constraint(value, "inferenceConfig", "be an InferenceConfiguration"))
        return None, ()
    limit = value.get("maxTokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        rule = "have value greater than or equal to 1"
        problems.append(_constraint(limit, "inferenceConfig.maxTokens", rule))
        limit = None
    for name in ("temperature", "topP"):
        number = value.get(name)
        if number is None:
            continue
        if isinstance(number, bool) or not isinstance(number, int | float):
            problems.append(_constraint(number, f"inferenceConfig.{name}", "be a number"))
        elif number < 0:
            rule = "have value greater than or equal to 0"
            problems.append(_constraint(number, f"inferenceConfig.{name}", rule))
        elif number > 1:
            rule = "have value less than or equal to 1"
            problems.append(_constraint(number, f"inferenceConfig.{name}", rule))
    stops = value.get("stopSequences")
    if stops is None:
        return limit, ()
    if not isinstance(stops, list) or len(stops) > 2500:
        rule = "be a list of at most 2500 strings"
        problems.append(_constraint(stops, "inferenceConfig.stopSequences", rule))
        return limit, ()
    for index, stop in enumerate(stops, start=1):
        if not isinstance(stop, str) or not stop:
            path = f"inferenceConfig.stopSequences.{index}.member"
            problems.append(_constraint(stop, path, "have length greater than or equal to 1"))
    return limit, tuple(s for s in stops if isinstance(s, str) and s)


def _tools(value: Any, problems: list[str]) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        problems.append(_constraint(value, "toolConfig", "be a ToolConfiguration"))
        return []
    tools = value.get("tools")
    if not isinstance(tools, list) or not tools:
        rule = "have length greater than or equal to 1"
        problems.append(_constraint(tools, "toolConfig.tools", rule))
        return []
    specs = []
    for index, tool in enumerate(tools, start=1):
        path = f"toolConfig.tools.{index}.member"
        _one_of(tool, frozenset({"toolSpec", "systemTool", "cachePoint"}), path, problems)
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if not isinstance(spec, dict):
            continue
        name = spec.get("name")
        if not isinstance(name, str) or not _TOOL_NAME_RE.match(name):
            rule = "satisfy regular expression pattern: [a-zA-Z0-9_-]+ of 1 to 64 characters"
            problems.append(_constraint(name, f"{path}.toolSpec.name", rule))
        schema = spec.get("inputSchema")
        if not isinstance(schema, dict) or not isinstance(schema.get("json"), dict):
            rule = "have a json schema object"
            problems.append(_constraint(schema, f"{path}.toolSpec.inputSchema", rule))
        specs.append(spec)
    choice = value.get("toolChoice")
    if choice is not None:
        _one_of(choice, frozenset({"auto", "any", "tool"}), "toolConfig.toolChoice", problems)
    return specs


# -- the conversation's rules and the family's abilities ----------------------------------------


def _check_conversation(
    messages: list[dict[str, Any]], family: str | None, *, uses_tools: bool
) -> None:
    if not messages or messages[0]["role"] != "user":
        raise invalid(
            "A conversation must start with a user message. Try again with a conversation "
            "that starts with a user message."
        )
    for index, message in enumerate(messages):
        if index and message["role"] == messages[index - 1]["role"]:
            raise invalid(
                "A conversation must alternate between user and assistant roles. Make sure the "
                "conversation alternates between user and assistant roles and try again."
            )
        if not message["content"]:
            raise invalid(
                f"The content field in the Message object at messages.{index} is empty. Add a "
                "ContentBlock object to the content field and try again."
            )
        for position, block in enumerate(message["content"]):
            if "text" in block and not str(block["text"]).strip():
                raise invalid(
                    f"The text field in the ContentBlock object at messages.{index}.content."
                    f"{position} is blank. Add text to the text field, and try again."
                )
            if ("toolUse" in block or "toolResult" in block) and not uses_tools:
                raise invalid(
                    "The toolConfig field must be defined when using toolUse and toolResult "
                    "content blocks."
                )
    if messages[-1]["role"] != "user" and family in LAST_TURN_USER:
        raise invalid(
            "The model that you are using requires the last turn in the conversation to be a "
            "user message. Add a user message to the conversation and try again."
        )


def _tool_call(
    choice: dict[str, Any], tools: list[dict[str, Any]], family: str | None
) -> ToolCall | None:
    if family in NO_TOOL_USE:
        raise invalid("This model doesn't support tool use.")
    kind = next(iter(choice))
    if kind == "auto" or not tools:
        return None
    if family is not None and family not in FORCED_TOOL_CHOICE:
        raise invalid(
            f"This model doesn't support the toolConfig.toolChoice.{kind} field. Remove "
            f"toolConfig.toolChoice.{kind} and try again."
        )
    if kind == "any":
        spec = tools[0]
    else:
        wanted = choice["tool"].get("name") if isinstance(choice["tool"], dict) else None
        found = [t for t in tools if t.get("name") == wanted]
        if not found:
            raise invalid(
                f"The tool {wanted} named in toolConfig.toolChoice is not in toolConfig.tools."
            )
        spec = found[0]
    return ToolCall(spec["name"], _example_input(spec["inputSchema"]["json"]))


def _example_input(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments shaped like the tool's schema: one placeholder per top-level property."""
    placeholders: dict[str, Any] = {"string": "sandbox", "integer": 1, "number": 1}
    placeholders |= {"boolean": True, "array": [], "object": {}}
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {
        name: placeholders.get(str(spec.get("type")) if isinstance(spec, dict) else "", "sandbox")
        for name, spec in properties.items()
    }


def _check_additional_fields(value: Any, family: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise malformed("#: expected type: JSONObject")
    allowed = ADDITIONAL_FIELDS.get(family or "")
    if allowed is None:
        return  # a model the sandbox has no rules for takes whatever it is given
    for key in value:
        if key not in allowed:
            raise malformed(f"#: extraneous key [{key}] is not permitted")


def _message_text(message: dict[str, Any]) -> str:
    parts = []
    for block in message["content"]:
        if isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif isinstance(block.get("toolResult"), dict):
            for item in block["toolResult"].get("content") or []:
                if isinstance(item, dict) and "text" in item:
                    parts.append(str(item["text"]))
                elif isinstance(item, dict) and "json" in item:
                    parts.append(json.dumps(item["json"]))
    return " ".join(parts)


# -- answers ---------------------------------------------------------------------------------


def answer(conversation: Conversation) -> tuple[Generation, dict[str, Any]]:
    """The generation and the assistant message's content block for a parsed conversation."""
    call = conversation.tool_call
    if call is None:
        generation = generate(conversation.prompt)
        return generation, {"text": generation.text}
    arguments = json.dumps(call.input, separators=(",", ":"))
    tool_id = "tooluse_" + uuid.uuid4().hex[:22]
    generation = Generation((arguments,), count_tokens(conversation.prompt.text), "tool_use")
    return generation, {"toolUse": {"toolUseId": tool_id, "name": call.name, "input": call.input}}


def reply(generation: Generation, block: dict[str, Any], latency_ms: int) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [block]}},
        "stopReason": generation.stop,
        "usage": usage(generation),
        "metrics": {"latencyMs": latency_ms},
    }


def stream_events(generation: Generation, block: dict[str, Any]) -> list[StreamEvent]:
    """ConverseStream's events: a text block has no contentBlockStart, a tool use block does."""
    events = [StreamEvent("messageStart", {"role": "assistant"}, HEAD)]
    if "toolUse" in block:
        start = {key: block["toolUse"][key] for key in ("toolUseId", "name")}
        events.append(
            StreamEvent(
                "contentBlockStart", {"start": {"toolUse": start}, "contentBlockIndex": 0}, HEAD
            )
        )
        deltas: list[dict[str, Any]] = [
            {"toolUse": {"input": piece}} for piece in generation.pieces
        ]
    else:
        deltas = [{"text": piece} for piece in generation.pieces]
    events += [
        StreamEvent("contentBlockDelta", {"delta": delta, "contentBlockIndex": 0}, DELTA)
        for delta in deltas
    ]
    events += [
        StreamEvent("contentBlockStop", {"contentBlockIndex": 0}, TAIL),
        StreamEvent("messageStop", {"stopReason": generation.stop}, TAIL),
        StreamEvent("metadata", {"usage": usage(generation), "metrics": {}}, TAIL, last=True),
    ]
    return events


def encode_stream_event(event: StreamEvent, clock: StreamClock) -> bytes:
    payload = event.payload
    if event.last:
        payload = {**payload, "metrics": {"latencyMs": clock.since_start_ms()}}
    return encode_event(event.name, payload)
