"""One set of rules for what users send to a model: the Request JSON, the request body of the
Invoke API, the extra HTTP headers, and their limits. The setup form, the prompt form, the
import of an export file and the Invoke API all check with these functions.

Pure Python: no Django, no boto3. Errors are :class:`bedrock.values.InvalidValue` sentences.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

from bedrock.values import InvalidValue, echo, first_bad_char

__all__ = [
    "BEDROCK_REQUEST_HEADERS",
    "MAX_DEPTH",
    "MAX_HEADERS",
    "MAX_REQUEST_BYTES",
    "MAX_TOKENS",
    "InvalidJson",
    "TooDeep",
    "check_header_count",
    "check_request_size",
    "converse_request",
    "header_value",
    "parse_json",
    "request_json",
    "too_deep",
    "unique_header_name",
    "validate_header_name",
    "validate_header_value",
    "whole_number",
]

MAX_REQUEST_BYTES: Final = 1024 * 1024  # a Request JSON, a prompt's template, an API body
MAX_DEPTH: Final = 64  # arrays and objects nested in a Request JSON or an API body
MAX_HEADERS: Final = 20  # extra HTTP headers of one integration
MAX_TOKENS: Final = 2**31 - 1  # Converse's maxTokens is a 32-bit integer: AWS refuses more


def whole_number(value: object, low: int, high: int) -> bool:
    """An int (not a bool) from low to high."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


# --- JSON ----------------------------------------------------------------------------------


class InvalidJson(InvalidValue):
    """The text is not JSON as AWS reads it."""


class TooDeep(InvalidValue):
    """Arrays and objects nest deeper than MAX_DEPTH (or than the parser can follow)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    """A JSON number beyond what a double holds (1e999) is refused, not read as infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range")
    return value


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` (checked without recursion)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False


def parse_json(text: str | bytes, what: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``text`` read as strict JSON: NaN and Infinity (Python's extensions) and numbers beyond a
    double are refused, as AWS refuses them, and so is nesting deeper than ``max_depth``.

    Raises :class:`InvalidJson` or :class:`TooDeep`, whose sentences name ``what``.
    """
    too_deep_message = f"The {what} is nested more than {max_depth} levels deep."
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
    except RecursionError:
        raise TooDeep(too_deep_message) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidJson(f"The {what} is not valid JSON: {e}.") from None
    if too_deep(value, max_depth):
        raise TooDeep(too_deep_message)
    return value


def check_request_size(text: str) -> None:
    """A Request JSON (or a prompt's template) is at most 1 MB."""
    if len(text.encode()) > MAX_REQUEST_BYTES:
        raise InvalidValue("The Request JSON is larger than 1 MB.")


def request_json(text: str) -> str:
    """An integration's Request JSON: at most 1 MB of strict JSON, an object. Returns it
    stripped of surrounding white space."""
    check_request_size(text)
    if not isinstance(parse_json(text, "Request JSON"), dict):
        raise InvalidValue("The Request JSON must be a JSON object ({…}).")
    return text.strip()


# --- Converse ------------------------------------------------------------------------------

# The parameters of Converse a Request JSON may hold (modelId is the integration's own).
CONVERSE_FIELDS: Final = frozenset(
    {
        "messages",
        "system",
        "inferenceConfig",
        "toolConfig",
        "additionalModelRequestFields",
        "additionalModelResponseFieldPaths",
        "guardrailConfig",
        "performanceConfig",
        "requestMetadata",
    }
)
_CONTENT_BLOCKS: Final = frozenset(
    {"text", "image", "document", "video", "toolUse", "toolResult", "guardContent", "cachePoint"}
)
_INFERENCE_NUMBERS: Final = {"temperature": (0.0, 1.0), "topP": (0.0, 1.0)}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _converse_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidValue(
            'A Converse request needs "messages": a non-empty list such as '
            '[{"role": "user", "content": [{"text": "Hello"}]}].'
        )
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise InvalidValue(f'{where} must be an object with "role" and "content".')
        if message.get("role") not in ("user", "assistant"):
            raise InvalidValue(f'{where}.role must be "user" or "assistant".')
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise InvalidValue(
                f'{where}.content must be a non-empty list of blocks such as {{"text": "Hello"}}.'
            )
        for j, block in enumerate(content):
            _content_block(block, f"{where}.content[{j}]")
        extra = sorted(set(message) - {"role", "content"})
        if extra:
            raise InvalidValue(f"{where} has an unknown field: {echo(extra[0], 40)}.")


def _content_block(block: Any, where: str) -> None:
    if not isinstance(block, dict) or len(block) != 1:
        raise InvalidValue(
            f'{where} must be an object with one field, such as {{"text": "Hello"}}.'
        )
    [kind] = block
    if kind not in _CONTENT_BLOCKS:
        raise InvalidValue(f"{where} is not a known content block ({echo(kind, 40)}).")
    if kind == "text" and not isinstance(block["text"], str):
        raise InvalidValue(f"{where}.text must be a string.")


def _converse_system(system: Any) -> None:
    if not isinstance(system, list):
        raise InvalidValue('"system" must be a list of blocks such as [{"text": "Be brief."}].')
    for i, block in enumerate(system):
        if not isinstance(block, dict) or not block:
            raise InvalidValue(f'system[{i}] must be an object such as {{"text": "Be brief."}}.')
        if "text" in block and not isinstance(block["text"], str):
            raise InvalidValue(f"system[{i}].text must be a string.")


def _inference_config(config: Any) -> None:
    if not isinstance(config, dict):
        raise InvalidValue('"inferenceConfig" must be an object such as {"maxTokens": 256}.')
    unknown = sorted(set(config) - {"maxTokens", "temperature", "topP", "stopSequences"})
    if unknown:
        raise InvalidValue(
            f"inferenceConfig has an unknown field: {echo(unknown[0], 40)} (known: maxTokens, "
            "temperature, topP, stopSequences)."
        )
    tokens = config.get("maxTokens")
    if tokens is not None and not whole_number(tokens, 1, MAX_TOKENS):
        raise InvalidValue(
            f"inferenceConfig.maxTokens must be a whole number from 1 to {MAX_TOKENS}."
        )
    for name, (low, high) in _INFERENCE_NUMBERS.items():
        value = config.get(name)
        if value is not None and not (_number(value) and low <= value <= high):
            raise InvalidValue(f"inferenceConfig.{name} must be a number from {low} to {high}.")
    stops = config.get("stopSequences")
    if stops is not None and not (
        isinstance(stops, list) and all(isinstance(x, str) and x for x in stops)
    ):
        raise InvalidValue("inferenceConfig.stopSequences must be a list of non-empty strings.")


def converse_request(value: Any) -> dict[str, Any]:
    """A parsed Request JSON checked as a Converse request (the parameters of bedrock-runtime's
    Converse without modelId); returns it. Messages are checked in full, the rest by type."""
    if not isinstance(value, dict):
        raise InvalidValue("The Request JSON must be a JSON object ({…}).")
    unknown = sorted(set(value) - CONVERSE_FIELDS)
    if unknown:
        raise InvalidValue(
            f"A Converse request has no field {echo(unknown[0], 40)} (known: messages, system, "
            "inferenceConfig, toolConfig, additionalModelRequestFields, ...)."
        )
    _converse_messages(value.get("messages"))
    if "system" in value:
        _converse_system(value["system"])
    if "inferenceConfig" in value:
        _inference_config(value["inferenceConfig"])
    for name in ("toolConfig", "additionalModelRequestFields", "guardrailConfig"):
        if name in value and not isinstance(value[name], dict):
            raise InvalidValue(f'"{name}" must be a JSON object.')
    return value


# --- Extra HTTP headers ----------------------------------------------------------------------


def check_header_count(count: int) -> None:
    if count > MAX_HEADERS:
        raise InvalidValue(f"At most {MAX_HEADERS} headers.")


def unique_header_name(name: str, seen: set[str]) -> str:
    """A valid header name (canonical spelling) not already in ``seen`` (lower-case names),
    which it joins."""
    name = validate_header_name(name)
    if name.lower() in seen:
        raise InvalidValue(f"The header {name} is listed twice.")
    seen.add(name.lower())
    return name


def header_value(value: str) -> str:
    """A header's value: valid, and not empty once surrounding spaces are removed."""
    value = validate_header_value(value)
    if not value:
        raise InvalidValue("Enter a value for this header.")
    return value


_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Bedrock InvokeModel request headers a user may set (canonical spelling).
BEDROCK_REQUEST_HEADERS: Final = (
    "X-Amzn-Bedrock-Trace",
    "X-Amzn-Bedrock-GuardrailIdentifier",
    "X-Amzn-Bedrock-GuardrailVersion",
    "X-Amzn-Bedrock-PerformanceConfig-Latency",
    "X-Amzn-Bedrock-Service-Tier",
)
_BEDROCK_HEADERS_BY_LOWER = {name.lower(): name for name in BEDROCK_REQUEST_HEADERS}
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "upgrade", "te", "trailer", "transfer-encoding"}
)
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie"})
_CLIENT_HEADERS = frozenset(
    {"host", "content-length", "content-type", "content-encoding", "expect", "accept-encoding"}
)


def validate_header_name(name: str) -> str:
    """An extra request header name: an RFC 9110 token of 1-100 characters that the HTTP
    client, the proxy layer and SigV4 signing do not own."""
    if not isinstance(name, str):
        raise InvalidValue("The header name must be text.")
    name = name.strip()
    if not name:
        raise InvalidValue("Enter a header name, for example X-Amzn-Bedrock-Trace.")
    if len(name) > 100:
        raise InvalidValue(f"The header name must be at most 100 characters (got {len(name)}).")
    if not _TOKEN_RE.fullmatch(name):
        raise InvalidValue(
            "A header name may only contain letters, digits and ! # $ % & ' * + - . ^ _ ` | ~ "
            f"(found {first_bad_char(name, _TOKEN_RE)})."
        )
    lower = name.lower()
    header = f"The header {echo(name, 40)}"
    if lower in _CREDENTIAL_HEADERS:
        raise InvalidValue(
            f"{header} can't be set: the console signs each request with the assumed "
            "role's credentials."
        )
    if lower in _HOP_BY_HOP or lower.startswith("proxy-"):
        raise InvalidValue(
            f"{header} is a hop-by-hop or proxy header and can't be set on a Bedrock request."
        )
    if lower in _CLIENT_HEADERS:
        raise InvalidValue(
            f"{header} is set by the HTTP client from the request itself and can't be overridden."
        )
    if lower in _BEDROCK_HEADERS_BY_LOWER:
        return _BEDROCK_HEADERS_BY_LOWER[lower]
    if lower.startswith("x-amz-"):
        raise InvalidValue(f"{header} can't be set: X-Amz-* headers belong to AWS request signing.")
    if lower.startswith("x-amzn-"):
        raise InvalidValue(
            f"{header} can't be set: the only X-Amzn-* headers allowed are the Bedrock ones "
            f"({', '.join(BEDROCK_REQUEST_HEADERS)})."
        )
    return name


def validate_header_value(value: str) -> str:
    """A header value: printable ASCII and tabs, at most 4096 characters. The value is never
    included in the message (it may be a secret). Surrounding spaces and tabs are removed."""
    if not isinstance(value, str):
        raise InvalidValue("The header value must be text.")
    if len(value) > 4096:
        raise InvalidValue(f"The header value must be at most 4096 characters (got {len(value)}).")
    if "\r" in value or "\n" in value:
        raise InvalidValue("The header value must be a single line (no line breaks).")
    if "\x00" in value:
        raise InvalidValue("The header value contains a NUL character.")
    for char in value:
        if char != "\t" and (ord(char) < 0x20 or ord(char) == 0x7F):
            raise InvalidValue(
                f"The header value contains a control character (U+{ord(char):04X})."
            )
        if not char.isascii():
            raise InvalidValue(
                "The header value must be plain ASCII (found a non-ASCII character)."
            )
    return value.strip(" \t")
