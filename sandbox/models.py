"""Model identifiers, request-body families and the deterministic replies of each family."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from .replies import ApiError

REPLY_PREFIX = "Hello from the Bedrock sandbox. You said: "
GEO_PREFIXES = ("us.", "eu.", "apac.", "jp.", "au.", "ca.", "us-gov.", "global.")
PROFILE_ONLY_PATTERNS = (
    "anthropic.claude-3-7-sonnet-*",
    "anthropic.claude-sonnet-4*",
    "anthropic.claude-opus-4*",
    "meta.llama3-3-*",
    "amazon.nova-premier-*",
)
_BASE_ID_RE = re.compile(r"^[a-z0-9-]+\.[A-Za-z0-9._:-]+$")
_ARN_RE = re.compile(
    r"^arn:aws(?:-cn|-us-gov)?:bedrock:[a-z0-9-]+:(?P<account>\d{12})?:"
    r"(?P<kind>[a-z-]+)/(?P<resource>[A-Za-z0-9._:/-]+)$"
)
_LLAMA_USER_RE = re.compile(
    r"<\|start_header_id\|>user<\|end_header_id\|>(.*?)(?:<\|eot_id\|>|$)", re.DOTALL
)
_INST_RE = re.compile(r"\[INST\](.*?)(?:\[/INST\]|$)", re.DOTALL)
_SPECIAL_TOKENS_RE = re.compile(r"<\|[^|]*\|>|</?s>|\[/?INST\]")


@dataclass(frozen=True, slots=True)
class ModelRef:
    model_id: str  # as invoked
    base_id: str | None  # the foundation model behind it, when the id says so
    via_profile: bool  # inference profile, provisioned or custom model: no on-demand limit


def parse_model_id(model_id: str) -> ModelRef:
    if model_id.startswith("arn:"):
        return _parse_arn(model_id)
    if not _BASE_ID_RE.match(model_id):
        raise ApiError("ValidationException", 400, "The provided model identifier is invalid.")
    for prefix in GEO_PREFIXES:
        if model_id.startswith(prefix):
            return ModelRef(model_id, model_id[len(prefix) :], True)
    return ModelRef(model_id, model_id, False)


def _parse_arn(model_id: str) -> ModelRef:
    match = _ARN_RE.match(model_id)
    if match is None:
        raise ApiError("ValidationException", 400, "The provided model identifier is invalid.")
    kind, resource = match["kind"], match["resource"]
    if kind == "foundation-model":
        return ModelRef(model_id, resource, False)
    if kind == "inference-profile":
        base = next((resource[len(p) :] for p in GEO_PREFIXES if resource.startswith(p)), resource)
        return ModelRef(model_id, base, True)
    return ModelRef(model_id, None, True)


def check_on_demand(ref: ModelRef) -> None:
    if ref.via_profile or ref.base_id is None:
        return
    if any(fnmatchcase(ref.base_id, pattern) for pattern in PROFILE_ONLY_PATTERNS):
        raise ApiError(
            "ValidationException",
            400,
            f"Invocation of model ID {ref.model_id} with on-demand throughput isn't supported. "
            "Retry your request with the ID or ARN of an inference profile that contains this "
            "model.",
        )


# -- families ---------------------------------------------------------------------------------


def family_from_model(base_id: str | None) -> str | None:
    if not base_id:
        return None
    for prefix, family in (
        ("anthropic.", "anthropic"),
        ("amazon.nova", "nova"),
        ("amazon.titan-text", "titan"),
        ("meta.", "llama"),
        ("mistral.", "mistral"),
        ("cohere.command-r", "cohere"),
        ("ai21.", "jamba"),
    ):
        if base_id.startswith(prefix):
            return family
    return None


def detect_family(body: dict[str, Any], base_id: str | None) -> str:
    """The family the body's shape belongs to; the model id only breaks ties."""
    by_model = family_from_model(base_id)
    if "anthropic_version" in body:
        return "anthropic"
    if "inputText" in body:
        return "titan"
    if isinstance(body.get("message"), str):
        return "cohere"
    if "prompt" in body:
        if by_model in ("llama", "mistral"):
            return by_model
        return "llama" if "max_gen_len" in body else "mistral"
    if "messages" in body:
        if "inferenceConfig" in body or "schemaVersion" in body or _nova_shaped(body):
            return "nova"
        return by_model if by_model in ("anthropic", "nova", "jamba") else "jamba"
    if by_model is not None:
        return by_model
    raise malformed("the request body matches no supported model family")


def _nova_shaped(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    content = messages[-1].get("content") if isinstance(messages[-1], dict) else None
    return (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(b, dict) and "text" in b and "type" not in b for b in content)
    )


def malformed(reason: str) -> ApiError:
    return ApiError(
        "ValidationException",
        400,
        f"Malformed input request: {reason}, please reformat your input and try again.",
    )


@dataclass(frozen=True, slots=True)
class Completion:
    body: dict[str, Any]
    input_tokens: int
    output_tokens: int


def complete(family: str, body: dict[str, Any], ref: ModelRef) -> Completion:
    prompt_text, user_text = _EXTRACTORS[family](body)
    reply = REPLY_PREFIX + user_text
    tokens_in, tokens_out = len(prompt_text.split()), len(reply.split())
    answer = _RESPONDERS[family](reply, tokens_in, tokens_out, ref)
    return Completion(answer, tokens_in, tokens_out)


# -- reading the user's text ------------------------------------------------------------------


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)
        ]
        return " ".join(parts)
    return ""


def _from_messages(body: dict[str, Any], system: Any = None) -> tuple[str, str]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise malformed("#: required key [messages] not found or empty")
    texts, last_user = [_content_text(system)] if system else [], ""
    for message in messages:
        if not isinstance(message, dict):
            raise malformed("#/messages: expected type: JSONObject")
        text = _content_text(message.get("content"))
        texts.append(text)
        if message.get("role") == "user":
            last_user = text
    return " ".join(texts), last_user


def _anthropic_text(body: dict[str, Any]) -> tuple[str, str]:
    if "max_tokens" not in body:
        raise malformed("#: required key [max_tokens] not found")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        raise malformed("#/max_tokens: expected minimum: 1")
    if "anthropic_version" not in body:
        raise malformed("#: required key [anthropic_version] not found")
    if "messages" not in body:
        raise malformed("#: required key [messages] not found")
    return _from_messages(body, body.get("system"))


def _nova_text(body: dict[str, Any]) -> tuple[str, str]:
    return _from_messages(body, body.get("system"))


def _jamba_text(body: dict[str, Any]) -> tuple[str, str]:
    return _from_messages(body)


def _titan_text(body: dict[str, Any]) -> tuple[str, str]:
    text = body.get("inputText")
    if not isinstance(text, str):
        raise malformed("#/inputText: expected type: String")
    user = text.rsplit("User:", 1)[-1]
    user = user.rsplit("Bot:", 1)[0] if user.rstrip().endswith("Bot:") else user
    return text, user.strip()


def _prompt_text(body: dict[str, Any]) -> tuple[str, str]:
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise malformed("#/prompt: expected type: String")
    turns = _LLAMA_USER_RE.findall(prompt) or _INST_RE.findall(prompt) or [prompt]
    user = _SPECIAL_TOKENS_RE.sub(" ", turns[-1]).strip()
    return _SPECIAL_TOKENS_RE.sub(" ", prompt), user


def _cohere_text(body: dict[str, Any]) -> tuple[str, str]:
    message = body["message"]
    history = body.get("chat_history") or []
    earlier = [h.get("message", "") for h in history if isinstance(h, dict)]
    return " ".join([*map(str, earlier), message]), message


_EXTRACTORS: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "anthropic": _anthropic_text,
    "nova": _nova_text,
    "jamba": _jamba_text,
    "titan": _titan_text,
    "llama": _prompt_text,
    "mistral": _prompt_text,
    "cohere": _cohere_text,
}


# -- answers per family -----------------------------------------------------------------------


def _anthropic_answer(text: str, tin: int, tout: int, ref: ModelRef) -> dict[str, Any]:
    return {
        "id": "msg_bdrk_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": ref.base_id or ref.model_id,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": tin, "output_tokens": tout},
    }


def _nova_answer(text: str, tin: int, tout: int, ref: ModelRef) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": tin, "outputTokens": tout, "totalTokens": tin + tout},
    }


def _titan_answer(text: str, tin: int, tout: int, ref: ModelRef) -> dict[str, Any]:
    return {
        "inputTextTokenCount": tin,
        "results": [{"tokenCount": tout, "outputText": text, "completionReason": "FINISH"}],
    }


def _llama_answer(text: str, tin: int, tout: int, ref: ModelRef) -> dict[str, Any]:
    return {
        "generation": text,
        "prompt_token_count": tin,
        "generation_token_count": tout,
        "stop_reason": "stop",
    }


def _mistral_answer(text: str, tin: int, tout: int, ref: ModelRef) -> dict[str, Any]:
    return {"outputs": [{"text": text, "stop_reason": "stop"}]}


def _cohere_answer(text: str, tin: int, tout: int, ref: ModelRef) -> dict[str, Any]:
    return {
        "response_id": str(uuid.uuid4()),
        "generation_id": str(uuid.uuid4()),
        "text": text,
        "finish_reason": "COMPLETE",
        "chat_history": [{"role": "CHATBOT", "message": text}],
    }


def _jamba_answer(text: str, tin: int, tout: int, ref: ModelRef) -> dict[str, Any]:
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "model": ref.base_id or ref.model_id,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout},
    }


_RESPONDERS: dict[str, Callable[[str, int, int, ModelRef], dict[str, Any]]] = {
    "anthropic": _anthropic_answer,
    "nova": _nova_answer,
    "titan": _titan_answer,
    "llama": _llama_answer,
    "mistral": _mistral_answer,
    "cohere": _cohere_answer,
    "jamba": _jamba_answer,
}
