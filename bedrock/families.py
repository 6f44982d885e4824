"""Model families: the native InvokeModel request body, and the one reader of an answer.

Pure Python (no Django, no boto3). The JMESPath expressions come from the table in
``shared/reference/bedrock.md``. `extract` is the only code that reads an answer (text, token
counts, stop reason), whether with a family's paths or with paths the admin set on a prompt.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, Final

import jmespath
from jmespath.parser import ParsedResult

from bedrock.arns import ModelRef, parse_model_id
from bedrock.values import InvalidValue

__all__ = [
    "FAMILIES",
    "INPUT_TOKENS_HEADER",
    "OUTPUT_TOKENS_HEADER",
    "Extracted",
    "Family",
    "ResponsePaths",
    "StreamPiece",
    "default_request_json",
    "detect_family",
    "extract",
    "read_stream_chunk",
]

INPUT_TOKENS_HEADER: Final = "x-amzn-bedrock-input-token-count"
OUTPUT_TOKENS_HEADER: Final = "x-amzn-bedrock-output-token-count"


@dataclass(frozen=True)
class Family:
    """A model family. ``*_path`` are JMESPath expressions; a token path of None means the
    counts are only in the response headers. ``model_prefixes`` match base model ids."""

    key: str
    label: str
    request_template: dict[str, Any] = field(hash=False, compare=False)
    text_path: str
    input_tokens_path: str | None
    output_tokens_path: str | None
    model_prefixes: tuple[str, ...] = ()
    stop_reason_path: str | None = None

    def new_request(self) -> dict[str, Any]:
        """A deep copy of the request template, safe to modify."""
        return copy.deepcopy(self.request_template)


@dataclass(frozen=True, slots=True)
class Extracted:
    """What :func:`extract` found. ``text_error`` says why ``text`` is None."""

    text: str | None
    input_tokens: int | None
    output_tokens: int | None
    text_error: str | None
    family_key: str | None = None  # the family whose text path matched
    stop_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ResponsePaths:
    """Where an admin says the answer is (a prompt's Response path and token paths), as
    JMESPath; they replace the family's. An empty token path means: the headers only."""

    text: str
    input_tokens: str = ""
    output_tokens: str = ""


_LLAMA_PROMPT = (
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)

FAMILIES: Final[dict[str, Family]] = {
    family.key: family
    for family in (
        Family(
            key="anthropic",
            label="Anthropic Claude (Messages)",
            request_template={
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 256,
                "messages": [{"role": "user", "content": "Hi"}],
            },
            text_path="content[?type=='text'].text | [0]",
            input_tokens_path="usage.input_tokens",
            output_tokens_path="usage.output_tokens",
            model_prefixes=("anthropic.",),
            stop_reason_path="stop_reason",
        ),
        Family(
            key="nova",
            label="Amazon Nova",
            request_template={
                "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
                "inferenceConfig": {"maxTokens": 256},
            },
            text_path="output.message.content[0].text",
            input_tokens_path="usage.inputTokens",
            output_tokens_path="usage.outputTokens",
            model_prefixes=("amazon.nova-",),
            stop_reason_path="stopReason",
        ),
        Family(
            key="titan",
            label="Amazon Titan Text",
            request_template={
                "inputText": "User: Hi\nBot:",
                "textGenerationConfig": {"maxTokenCount": 256},
            },
            text_path="results[0].outputText",
            input_tokens_path="inputTextTokenCount",
            output_tokens_path="results[0].tokenCount",
            model_prefixes=("amazon.titan-text",),
            stop_reason_path="results[0].completionReason",
        ),
        Family(
            key="llama",
            label="Meta Llama 3",
            request_template={"prompt": _LLAMA_PROMPT, "max_gen_len": 256},
            text_path="generation",
            input_tokens_path="prompt_token_count",
            output_tokens_path="generation_token_count",
            model_prefixes=("meta.llama",),
            stop_reason_path="stop_reason",
        ),
        Family(
            key="mistral",
            label="Mistral",
            request_template={"prompt": "<s>[INST] Hi [/INST]", "max_tokens": 256},
            text_path="outputs[0].text",
            input_tokens_path=None,
            output_tokens_path=None,
            model_prefixes=("mistral.",),
            stop_reason_path="outputs[0].stop_reason",
        ),
        Family(
            key="cohere",
            label="Cohere Command R",
            request_template={"message": "Hi", "max_tokens": 256},
            text_path="text",
            input_tokens_path=None,
            output_tokens_path=None,
            model_prefixes=("cohere.command-r",),
            stop_reason_path="finish_reason",
        ),
        Family(
            key="ai21",
            label="AI21 Jamba",
            request_template={
                "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 256,
            },
            text_path="choices[0].message.content",
            input_tokens_path="usage.prompt_tokens",
            output_tokens_path="usage.completion_tokens",
            model_prefixes=("ai21.jamba",),
            stop_reason_path="choices[0].finish_reason",
        ),
    )
}

_DEFAULT_FAMILY: Final = "anthropic"
_MISSING_TEXT = {
    "anthropic": "The response has no 'content' text block.",
    "nova": "The response has no text in output.message.content.",
    "titan": "The response has no 'results' entry with outputText.",
    "llama": "The response has no 'generation' field.",
    "mistral": "The response has no 'outputs' entry with text.",
    "cohere": "The response has no 'text' field.",
    "ai21": "The response has no 'choices' entry with message content.",
}


@cache
def _compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def detect_family(model_id_or_ref: str | ModelRef | None) -> Family | None:
    """The family of a model id, ARN or :class:`ModelRef`; None when the foundation model
    can't be known (application profiles, provisioned models…) or is not a known family."""
    if model_id_or_ref is None:
        return None
    if isinstance(model_id_or_ref, ModelRef):
        return _family_of(model_id_or_ref)
    return _family_of_id(model_id_or_ref)


@lru_cache(maxsize=1024)
def _family_of_id(model_id: str) -> Family | None:
    # Every model call asks for its family: parse each id once.
    try:
        return _family_of(parse_model_id(model_id))
    except InvalidValue:
        return None


def _family_of(ref: ModelRef) -> Family | None:
    base = ref.base_model_id
    if not base:
        return None
    base = base.lower()
    for family in FAMILIES.values():
        if base.startswith(family.model_prefixes):
            return family
    return None


def default_request_json(family: Family | None) -> str:
    """The family's minimal request body as pretty JSON (Anthropic's when ``family`` is None)."""
    chosen = family if family is not None else FAMILIES[_DEFAULT_FAMILY]
    return json.dumps(chosen.request_template, indent=2, ensure_ascii=False)


# A valid Converse request: the same for every model (the Request JSON of the Converse format).
CONVERSE_EXAMPLE: dict[str, object] = {
    "system": [{"text": "You are a helpful assistant."}],
    "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
    "inferenceConfig": {"maxTokens": 256},
}


def converse_request_json() -> str:
    """The Converse example as pretty JSON."""
    return json.dumps(CONVERSE_EXAMPLE, indent=2, ensure_ascii=False)


def _as_count(value: object) -> int | None:
    """A token count: a non-negative whole number (12, 12.0 or "12"); anything else is unknown.

    JSON does not tell 12 from 12.0, so both are the count 12; 12.5, -1 and true are not counts.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    return None


def _header(headers: Mapping[str, str] | None, name: str) -> int | None:
    if not headers:
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return _as_count(value)
    return None


def _search(expression: str | None, data: object) -> object:
    if expression is None:
        return None
    try:
        return _compiled(expression).search(data)
    except jmespath.exceptions.JMESPathError:
        return None


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, dict):
        return "a JSON object"
    return f"a {type(value).__name__}"


def _error_message(response: dict[str, Any]) -> str | None:
    for key in ("message", "Message", "errorMessage"):
        value = response.get(key)
        if isinstance(value, str) and value:
            clipped = value if len(value) <= 200 else value[:199] + "…"
            return f"The response carries an error message instead of text: {clipped}"
    return None


def _json_kind(value: object) -> str:
    return type(value).__name__.replace("dict", "object").replace("list", "array")


def _text_at(paths: ResponsePaths, response: dict[str, Any]) -> tuple[str | None, str | None]:
    """The text at an admin's Response path, or why there is none."""
    try:
        found = _compiled(paths.text).search(response)
    except jmespath.exceptions.JMESPathError as e:
        return None, f"The Response path is not valid JMESPath: {e}"
    if found is None:
        return None, f"The Response path {paths.text} finds nothing in this response."
    if not isinstance(found, str):
        return None, (
            f"The Response path finds a JSON {_json_kind(found)}, not text: point it at a string."
        )
    return found, None


def extract(
    family: Family | None,
    response: object,
    headers: Mapping[str, str] | None = None,
    *,
    paths: ResponsePaths | None = None,
) -> Extracted:
    """Find the answer text, token counts and stop reason in an InvokeModel response body.

    ``response`` is the decoded JSON (bytes or str are decoded here). With ``paths`` (a
    prompt's), the text and token counts are read there; otherwise with the family's paths,
    and with ``family`` None every family's text path is tried in turn. Token counts fall back
    to the ``x-amzn-bedrock-*-token-count`` response headers; the stop reason is the family's.
    """
    header_in = _header(headers, INPUT_TOKENS_HEADER)
    header_out = _header(headers, OUTPUT_TOKENS_HEADER)

    def failed(reason: str) -> Extracted:
        return Extracted(None, header_in, header_out, reason, None)

    if isinstance(response, bytes | bytearray):
        try:
            response = response.decode("utf-8")
        except UnicodeDecodeError:
            return failed("The response body is not UTF-8 text.")
    if isinstance(response, str):
        if not response.strip():
            return failed("The response body is empty.")
        try:
            response = json.loads(response)
        except ValueError:
            return failed("The response body is not JSON.")
    if not isinstance(response, dict):
        return failed(f"The response is {_describe(response)}, not a JSON object.")
    if not response:
        return failed("The response is an empty JSON object.")

    matched: Family | None = None
    text: str | None = None
    text_error: str | None = None
    if paths is not None:
        text, text_error = _text_at(paths, response)
        input_path, output_path = paths.input_tokens or None, paths.output_tokens or None
        matched = family
    else:
        matched, text, text_error = _family_text(family, response)
        token_family = matched or family
        input_path = token_family.input_tokens_path if token_family else None
        output_path = token_family.output_tokens_path if token_family else None
    body_in = _as_count(_search(input_path, response))
    body_out = _as_count(_search(output_path, response))
    stop = _search(matched.stop_reason_path, response) if matched else None
    return Extracted(
        text=text,
        input_tokens=body_in if body_in is not None else header_in,
        output_tokens=body_out if body_out is not None else header_out,
        text_error=text_error,
        family_key=matched.key if matched and paths is None else None,
        stop_reason=stop if isinstance(stop, str) else None,
    )


def _family_text(
    family: Family | None, response: dict[str, Any]
) -> tuple[Family | None, str | None, str | None]:
    candidates = [family] if family is not None else list(FAMILIES.values())
    text_error: str | None = None
    for candidate in candidates:
        found = _search(candidate.text_path, response)
        if isinstance(found, str):
            return candidate, found, None
        if family is not None and found is not None:
            text_error = f"The text at {candidate.text_path} is {_describe(found)}, not a string."
    if text_error is None:
        text_error = _error_message(response)
    if text_error is None:
        if family is not None:
            text_error = _MISSING_TEXT.get(
                family.key, f"The response has no text at {family.text_path}."
            )
        else:
            text_error = (
                "None of the known response shapes (Anthropic, Nova, Titan, Llama, "
                "Mistral, Cohere, AI21) has text in this response."
            )
    return None, None, text_error


# --- InvokeModelWithResponseStream ---------------------------------------------------------------

# Where each family's streamed chunk holds a piece of text, and the stop reason when it ends.
STREAM_PATHS: Final[dict[str, tuple[str, str]]] = {
    "anthropic": ("delta.text", "delta.stop_reason"),
    "nova": ("contentBlockDelta.delta.text", "messageStop.stopReason"),
    "titan": ("outputText", "completionReason"),
    "llama": ("generation", "stop_reason"),
    "mistral": ("outputs[0].text", "outputs[0].stop_reason"),
    "cohere": ("event_type == 'text-generation' && text", "finish_reason"),
    "ai21": ("choices[0].delta.content", "choices[0].finish_reason"),
}
# Every streamed answer's last chunk: Bedrock's own counts, whatever the family.
STREAM_METRICS: Final = "amazon-bedrock-invocationMetrics"


@dataclass(frozen=True)
class StreamPiece:
    text: str
    stop_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


def read_stream_chunk(family: Family | None, chunk: bytes) -> StreamPiece:
    """One streamed chunk (JSON in the family's own streaming format): its text and counts.

    Without a known family, every family's text path is tried in turn.
    """
    try:
        data = json.loads(chunk)
    except ValueError:
        return StreamPiece("")
    if not isinstance(data, dict):
        return StreamPiece("")
    keys = [family.key] if family and family.key in STREAM_PATHS else list(STREAM_PATHS)
    text, stop = "", None
    for key in keys:
        text_path, stop_path = STREAM_PATHS[key]
        found, reason = _search(text_path, data), _search(stop_path, data)
        if isinstance(found, str) or isinstance(reason, str):
            text = found if isinstance(found, str) else ""
            stop = reason if isinstance(reason, str) else None
            break
    metrics = data.get(STREAM_METRICS)
    counts = metrics if isinstance(metrics, dict) else {}
    return StreamPiece(
        text,
        stop,
        _as_count(counts.get("inputTokenCount")),
        _as_count(counts.get("outputTokenCount")),
    )
