"""Model identifiers, request-body families and the deterministic replies of each family."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from .generation import Generation, Prompt, generate
from .replies import ApiError

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
    r"^arn:aws(?:-cn|-us-gov)?:bedrock:(?P<region>[a-z0-9-]+):(?P<account>\d{12})?:"
    r"(?P<kind>[a-z-]+)/(?P<resource>[A-Za-z0-9._:/-]+)$"
)
_LLAMA_USER_RE = re.compile(
    r"<\|start_header_id\|>user<\|end_header_id\|>(.*?)(?:<\|eot_id\|>|$)", re.DOTALL
)
_INST_RE = re.compile(r"\[INST\](.*?)(?:\[/INST\]|$)", re.DOTALL)
_SPECIAL_TOKENS_RE = re.compile(r"<\|[^|]*\|>|</?s>|\[/?INST\]")


# The regions each geographic system inference profile is offered in and routes to (AWS adds
# regions over time; the sandbox's list is fixed). A global profile routes anywhere.
PROFILE_REGIONS = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1", "eu-south-1", "eu-south-2"),
    "apac": (
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-4",
    ),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "ca": ("ca-central-1", "ca-west-1"),
    "us-gov": ("us-gov-west-1", "us-gov-east-1"),
}
INVALID_MODEL_ID = "The provided model identifier is invalid."


@dataclass(frozen=True, slots=True)
class ModelRef:
    model_id: str  # as invoked
    base_id: str | None  # the foundation model behind it, when the id says so
    via_profile: bool  # inference profile, provisioned or custom model: no on-demand limit
    geo: str | None = None  # a system inference profile's geography ("us", "global"…)
    region: str | None = None  # an ARN's region


def parse_model_id(model_id: str) -> ModelRef:
    if model_id.startswith("arn:"):
        return _parse_arn(model_id)
    if not _BASE_ID_RE.match(model_id):
        raise ApiError("ValidationException", 400, INVALID_MODEL_ID)
    for prefix in GEO_PREFIXES:
        if model_id.startswith(prefix):
            return ModelRef(model_id, model_id[len(prefix) :], True, prefix[:-1])
    return ModelRef(model_id, model_id, False)


def _parse_arn(model_id: str) -> ModelRef:
    match = _ARN_RE.match(model_id)
    if match is None:
        raise ApiError("ValidationException", 400, INVALID_MODEL_ID)
    kind, resource, region = match["kind"], match["resource"], match["region"]
    if kind == "foundation-model":
        return ModelRef(model_id, resource, False, region=region)
    if kind == "inference-profile":
        prefix = next((p for p in GEO_PREFIXES if resource.startswith(p)), None)
        if prefix is None:  # a system profile's id always starts with its geography
            raise ApiError("ValidationException", 400, INVALID_MODEL_ID)
        return ModelRef(model_id, resource[len(prefix) :], True, prefix[:-1], region)
    return ModelRef(model_id, None, True, region=region)


def check_region(ref: ModelRef, region: str) -> None:
    """Refuse, like Bedrock, an ARN of another region than the one called, and a geographic
    inference profile called from a region outside its geography."""
    outside = ref.geo in PROFILE_REGIONS and region not in PROFILE_REGIONS[ref.geo or ""]
    if (ref.region is not None and ref.region != region) or outside:
        raise ApiError("ValidationException", 400, INVALID_MODEL_ID)


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def resource_checks(model_id: str, region: str, account: str) -> list[tuple[str, dict[str, str]]]:
    """The (resource ARN, request context) pairs IAM authorizes for a call to ``model_id`` in
    ``region``: the model, or an inference profile and the foundation model in each region it
    may route to (a global profile: the source region's and the region-less ARN)."""
    here = {"aws:RequestedRegion": region}
    try:
        ref = parse_model_id(model_id)
    except ApiError:
        return [(model_id, here)]
    partition = _partition(ref.region or region)

    def model_arn(where: str, base: str) -> str:
        return f"arn:{partition}:bedrock:{where}::foundation-model/{base}"

    if ref.geo is None or ref.base_id is None:
        if model_id.startswith("arn:"):
            return [(model_id, here)]
        return [(model_arn(region, model_id), here)]
    profile = model_id
    if not model_id.startswith("arn:"):
        profile = f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model_id}"
    via = {"bedrock:InferenceProfileArn": profile}
    checks = [(profile, here)]
    if ref.geo == "global":
        checks.append((model_arn(region, ref.base_id), {**here, **via}))
        unspecified = {"aws:RequestedRegion": "unspecified", **via}
        checks.append((model_arn("", ref.base_id), unspecified))
        return checks
    for where in PROFILE_REGIONS.get(ref.geo, (region,)):
        checks.append((model_arn(where, ref.base_id), {"aws:RequestedRegion": where, **via}))
    return checks


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
    generation: Generation

    @property
    def input_tokens(self) -> int:
        return self.generation.input_tokens

    @property
    def output_tokens(self) -> int:
        return self.generation.output_tokens


def read_prompt(family: str, body: dict[str, Any]) -> Prompt:
    """What a native request body asks of its family's model (malformed bodies raise)."""
    return _EXTRACTORS[family](body)


def complete(family: str, body: dict[str, Any], ref: ModelRef) -> Completion:
    generation = generate(read_prompt(family, body))
    return Completion(answer(family, generation, ref), generation)


def answer(family: str, generation: Generation, ref: ModelRef) -> dict[str, Any]:
    """The family's own InvokeModel response body for ``generation``."""
    return _RESPONDERS[family](generation, ref)


# -- reading the request ----------------------------------------------------------------------


def content_text(content: Any) -> str:
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
    texts, last_user = [content_text(system)] if system else [], ""
    for message in messages:
        if not isinstance(message, dict):
            raise malformed("#/messages: expected type: JSONObject")
        text = content_text(message.get("content"))
        texts.append(text)
        if message.get("role") == "user":
            last_user = text
    return " ".join(texts), last_user


def _limit(container: dict[str, Any], key: str, path: str) -> int | None:
    value = container.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise malformed(f"{path}: expected type: Integer, found: {_json_type(value)}")
    if value < 1:
        raise malformed(f"{path}: {value} is not greater or equal to 1")
    return value


def _stops(container: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = container.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise malformed(f"{path}: expected type: JSONArray of String")
    return tuple(value)


def _object(container: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = container.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise malformed(f"{path}: expected type: JSONObject, found: {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "Null"
    names = {bool: "Boolean", str: "String", list: "JSONArray", dict: "JSONObject"}
    return names.get(type(value), "Number")


def _anthropic_prompt(body: dict[str, Any]) -> Prompt:
    if "max_tokens" not in body:
        raise malformed("#: required key [max_tokens] not found")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        raise malformed("#/max_tokens: expected minimum: 1")
    if "anthropic_version" not in body:
        raise malformed("#: required key [anthropic_version] not found")
    if "messages" not in body:
        raise malformed("#: required key [messages] not found")
    text, user = _from_messages(body, body.get("system"))
    stops = _stops(body, "stop_sequences", "#/stop_sequences")
    return Prompt(text, user, body["max_tokens"], stops)


def _nova_prompt(body: dict[str, Any]) -> Prompt:
    text, user = _from_messages(body, body.get("system"))
    config = _object(body, "inferenceConfig", "#/inferenceConfig")
    path = "#/inferenceConfig"
    limit = _limit(config, "maxTokens", f"{path}/maxTokens")
    limit = (
        limit if limit is not None else _limit(config, "max_new_tokens", f"{path}/max_new_tokens")
    )
    return Prompt(text, user, limit, _stops(config, "stopSequences", f"{path}/stopSequences"))


def _jamba_prompt(body: dict[str, Any]) -> Prompt:
    text, user = _from_messages(body)
    limit = _limit(body, "max_tokens", "#/max_tokens")
    return Prompt(text, user, limit, _stops(body, "stop", "#/stop"))


def _titan_prompt(body: dict[str, Any]) -> Prompt:
    text = body.get("inputText")
    if not isinstance(text, str):
        raise malformed("#/inputText: expected type: String")
    user = text.rsplit("User:", 1)[-1]
    user = user.rsplit("Bot:", 1)[0] if user.rstrip().endswith("Bot:") else user
    config = _object(body, "textGenerationConfig", "#/textGenerationConfig")
    path = "#/textGenerationConfig"
    limit = _limit(config, "maxTokenCount", f"{path}/maxTokenCount")
    stops = _stops(config, "stopSequences", f"{path}/stopSequences")
    return Prompt(text, user.strip(), limit, stops)


def _prompt_text(body: dict[str, Any]) -> tuple[str, str]:
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise malformed("#/prompt: expected type: String")
    turns = _LLAMA_USER_RE.findall(prompt) or _INST_RE.findall(prompt) or [prompt]
    user = _SPECIAL_TOKENS_RE.sub(" ", turns[-1]).strip()
    return _SPECIAL_TOKENS_RE.sub(" ", prompt), user


def _llama_prompt(body: dict[str, Any]) -> Prompt:
    text, user = _prompt_text(body)
    return Prompt(text, user, _limit(body, "max_gen_len", "#/max_gen_len"))


def _mistral_prompt(body: dict[str, Any]) -> Prompt:
    text, user = _prompt_text(body)
    limit = _limit(body, "max_tokens", "#/max_tokens")
    return Prompt(text, user, limit, _stops(body, "stop", "#/stop"))


def _cohere_prompt(body: dict[str, Any]) -> Prompt:
    message = body["message"]
    history = body.get("chat_history") or []
    earlier = [h.get("message", "") for h in history if isinstance(h, dict)]
    text = " ".join([*map(str, earlier), message])
    limit = _limit(body, "max_tokens", "#/max_tokens")
    return Prompt(text, message, limit, _stops(body, "stop_sequences", "#/stop_sequences"))


_EXTRACTORS: dict[str, Callable[[dict[str, Any]], Prompt]] = {
    "anthropic": _anthropic_prompt,
    "nova": _nova_prompt,
    "jamba": _jamba_prompt,
    "titan": _titan_prompt,
    "llama": _llama_prompt,
    "mistral": _mistral_prompt,
    "cohere": _cohere_prompt,
}


# -- answers per family -----------------------------------------------------------------------

# How each family names why generation stopped (keys are Converse's names).
STOP_REASONS: dict[str, dict[str, str]] = {
    "anthropic": {
        "end_turn": "end_turn",
        "max_tokens": "max_tokens",
        "stop_sequence": "stop_sequence",
    },
    "nova": {"end_turn": "end_turn", "max_tokens": "max_tokens", "stop_sequence": "stop_sequence"},
    "titan": {"end_turn": "FINISH", "max_tokens": "LENGTH", "stop_sequence": "STOP_CRITERIA_MET"},
    "llama": {"end_turn": "stop", "max_tokens": "length", "stop_sequence": "stop"},
    "mistral": {"end_turn": "stop", "max_tokens": "length", "stop_sequence": "stop"},
    "cohere": {
        "end_turn": "COMPLETE",
        "max_tokens": "MAX_TOKENS",
        "stop_sequence": "STOP_SEQUENCE",
    },
    "jamba": {"end_turn": "stop", "max_tokens": "length", "stop_sequence": "stop"},
}


def stop_reason(family: str, generation: Generation) -> str:
    return STOP_REASONS[family][generation.stop]


def model_name(ref: ModelRef) -> str:
    return ref.base_id or ref.model_id


def _anthropic_answer(gen: Generation, ref: ModelRef) -> dict[str, Any]:
    return {
        "id": "msg_bdrk_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": model_name(ref),
        "content": [{"type": "text", "text": gen.text}],
        "stop_reason": stop_reason("anthropic", gen),
        "stop_sequence": gen.stop_sequence,
        "usage": {"input_tokens": gen.input_tokens, "output_tokens": gen.output_tokens},
    }


def _nova_answer(gen: Generation, ref: ModelRef) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": gen.text}]}},
        "stopReason": stop_reason("nova", gen),
        "usage": usage(gen),
    }


def usage(gen: Generation) -> dict[str, int]:
    """Converse's (and Nova's) usage object."""
    tin, tout = gen.input_tokens, gen.output_tokens
    return {"inputTokens": tin, "outputTokens": tout, "totalTokens": tin + tout}


def _titan_answer(gen: Generation, ref: ModelRef) -> dict[str, Any]:
    return {
        "inputTextTokenCount": gen.input_tokens,
        "results": [
            {
                "tokenCount": gen.output_tokens,
                "outputText": gen.text,
                "completionReason": stop_reason("titan", gen),
            }
        ],
    }


def _llama_answer(gen: Generation, ref: ModelRef) -> dict[str, Any]:
    return {
        "generation": gen.text,
        "prompt_token_count": gen.input_tokens,
        "generation_token_count": gen.output_tokens,
        "stop_reason": stop_reason("llama", gen),
    }


def _mistral_answer(gen: Generation, ref: ModelRef) -> dict[str, Any]:
    return {"outputs": [{"text": gen.text, "stop_reason": stop_reason("mistral", gen)}]}


def _cohere_answer(gen: Generation, ref: ModelRef) -> dict[str, Any]:
    return {
        "response_id": str(uuid.uuid4()),
        "generation_id": str(uuid.uuid4()),
        "text": gen.text,
        "finish_reason": stop_reason("cohere", gen),
        "chat_history": [{"role": "CHATBOT", "message": gen.text}],
    }


def _jamba_answer(gen: Generation, ref: ModelRef) -> dict[str, Any]:
    tin, tout = gen.input_tokens, gen.output_tokens
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "model": model_name(ref),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": gen.text},
                "finish_reason": stop_reason("jamba", gen),
            }
        ],
        "usage": {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout},
    }


_RESPONDERS: dict[str, Callable[[Generation, ModelRef], dict[str, Any]]] = {
    "anthropic": _anthropic_answer,
    "nova": _nova_answer,
    "titan": _titan_answer,
    "llama": _llama_answer,
    "mistral": _mistral_answer,
    "cohere": _cohere_answer,
    "jamba": _jamba_answer,
}
