"""Unit tests for bedrock.families (no database, no Django)."""

from __future__ import annotations

import dataclasses
import json

import jmespath
import pytest

from bedrock.arns import parse_model_id
from bedrock.families import (
    FAMILIES,
    INPUT_TOKENS_HEADER,
    OUTPUT_TOKENS_HEADER,
    Extracted,
    Family,
    ResponsePaths,
    default_request_json,
    detect_family,
    extract,
)

ACCOUNT = "123456789012"

LABELS = {
    "anthropic": "Anthropic Claude (Messages)",
    "nova": "Amazon Nova",
    "titan": "Amazon Titan Text",
    "llama": "Meta Llama 3",
    "mistral": "Mistral",
    "cohere": "Cohere Command R",
    "ai21": "AI21 Jamba",
}

TEMPLATES: dict[str, dict[str, object]] = {
    "anthropic": {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Hi"}],
    },
    "nova": {
        "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
        "inferenceConfig": {"maxTokens": 256},
    },
    "titan": {"inputText": "User: Hi\nBot:", "textGenerationConfig": {"maxTokenCount": 256}},
    "llama": {
        "prompt": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "max_gen_len": 256,
    },
    "mistral": {"prompt": "<s>[INST] Hi [/INST]", "max_tokens": 256},
    "cohere": {"message": "Hi", "max_tokens": 256},
    "ai21": {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 256},
}

PATHS = {
    "anthropic": ("content[?type=='text'].text | [0]", "usage.input_tokens", "usage.output_tokens"),
    "nova": ("output.message.content[0].text", "usage.inputTokens", "usage.outputTokens"),
    "titan": ("results[0].outputText", "inputTextTokenCount", "results[0].tokenCount"),
    "llama": ("generation", "prompt_token_count", "generation_token_count"),
    "mistral": ("outputs[0].text", None, None),
    "cohere": ("text", None, None),
    "ai21": ("choices[0].message.content", "usage.prompt_tokens", "usage.completion_tokens"),
}

# A realistic response per family with text "Hello!" and 11 / 7 tokens where the body has them.
RESPONSES: dict[str, dict[str, object]] = {
    "anthropic": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "hmm"},
            {"type": "text", "text": "Hello!"},
            {"type": "text", "text": "second block"},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 11, "output_tokens": 7},
    },
    "nova": {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hello!"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 11, "outputTokens": 7, "totalTokens": 18},
    },
    "titan": {
        "inputTextTokenCount": 11,
        "results": [{"tokenCount": 7, "outputText": "Hello!", "completionReason": "FINISH"}],
    },
    "llama": {
        "generation": "Hello!",
        "prompt_token_count": 11,
        "generation_token_count": 7,
        "stop_reason": "stop",
    },
    "mistral": {"outputs": [{"text": "Hello!", "stop_reason": "stop"}]},
    "cohere": {"text": "Hello!", "generation_id": "g", "finish_reason": "COMPLETE"},
    "ai21": {
        "id": "c",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    },
}

HEADERS = {INPUT_TOKENS_HEADER: "11", OUTPUT_TOKENS_HEADER: "7"}


def test_families_table() -> None:
    assert list(FAMILIES) == list(LABELS)
    for key, family in FAMILIES.items():
        assert isinstance(family, Family)
        assert family.key == key
        assert family.label == LABELS[key]
        assert family.request_template == TEMPLATES[key]
        assert (family.text_path, family.input_tokens_path, family.output_tokens_path) == PATHS[key]
        for path in (family.text_path, family.input_tokens_path, family.output_tokens_path):
            if path is not None:
                jmespath.compile(path)


def test_family_is_frozen_and_hashable() -> None:
    family = FAMILIES["anthropic"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        family.key = "x"  # type: ignore[misc]
    assert len({*FAMILIES.values()}) == len(FAMILIES)


def test_new_request_is_a_copy() -> None:
    family = FAMILIES["nova"]
    body = family.new_request()
    body["messages"][0]["content"][0]["text"] = "changed"
    assert family.request_template == TEMPLATES["nova"]


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic"),
        ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic"),
        ("global.anthropic.claude-sonnet-4-20250514-v1:0", "anthropic"),
        ("amazon.nova-lite-v1:0", "nova"),
        ("eu.amazon.nova-pro-v1:0", "nova"),
        ("amazon.titan-text-express-v1", "titan"),
        ("amazon.titan-text-premier-v1:0", "titan"),
        ("meta.llama3-8b-instruct-v1:0", "llama"),
        ("us.meta.llama3-2-1b-instruct-v1:0", "llama"),
        ("mistral.mistral-7b-instruct-v0:2", "mistral"),
        ("cohere.command-r-v1:0", "cohere"),
        ("cohere.command-r-plus-v1:0", "cohere"),
        ("ai21.jamba-1-5-mini-v1:0", "ai21"),
        ("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0", "nova"),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.meta.llama3-2-1b-instruct-v1:0",
            "llama",
        ),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/amazon.titan-text-express-v1:0:8k/abcdef123456",
            "titan",
        ),
    ],
)
def test_detect_family(model: str, key: str) -> None:
    family = detect_family(model)
    assert family is not None
    assert family.key == key
    assert detect_family(parse_model_id(model)) is family


@pytest.mark.parametrize(
    "model",
    [
        "amazon.titan-embed-text-v2:0",
        "cohere.command-text-v14",
        "cohere.embed-english-v3",
        "stability.stable-diffusion-xl-v1",
        "ai21.j2-ultra-v1",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abcdef123456",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abcdef123456",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:imported-model/abcdef123456",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/imported/abcdef123456",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:prompt/ABCDEFGHIJ",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:default-prompt-router/anthropic.claude:1",
        "not a model",
        "../../etc/passwd",
        "",
    ],
)
def test_detect_family_unknown(model: str) -> None:
    assert detect_family(model) is None


def test_detect_family_none() -> None:
    assert detect_family(None) is None


@pytest.mark.parametrize("key", list(FAMILIES))
def test_default_request_json(key: str) -> None:
    text = default_request_json(FAMILIES[key])
    assert json.loads(text) == TEMPLATES[key]
    assert text == json.dumps(TEMPLATES[key], indent=2, ensure_ascii=False)
    assert "\n  " in text


def test_default_request_json_none_is_anthropic() -> None:
    assert default_request_json(None) == default_request_json(FAMILIES["anthropic"])
    assert json.loads(default_request_json(None))["anthropic_version"] == "bedrock-2023-05-31"


@pytest.mark.parametrize("key", list(FAMILIES))
def test_extract_with_family(key: str) -> None:
    result = extract(FAMILIES[key], RESPONSES[key], HEADERS)
    assert isinstance(result, Extracted)
    assert result.text == "Hello!"
    assert result.text_error is None
    assert result.input_tokens == 11
    assert result.output_tokens == 7
    assert result.family_key == key


@pytest.mark.parametrize("key", list(FAMILIES))
def test_extract_without_family_tries_every_path(key: str) -> None:
    result = extract(None, RESPONSES[key], HEADERS)
    assert result.text == "Hello!"
    assert result.text_error is None
    assert result.family_key == key
    assert (result.input_tokens, result.output_tokens) == (11, 7)


@pytest.mark.parametrize("key", ["anthropic", "nova", "titan", "llama", "ai21"])
def test_body_token_counts_need_no_headers(key: str) -> None:
    result = extract(FAMILIES[key], RESPONSES[key], {})
    assert (result.input_tokens, result.output_tokens) == (11, 7)


@pytest.mark.parametrize("key", ["mistral", "cohere"])
def test_header_only_token_counts(key: str) -> None:
    result = extract(FAMILIES[key], RESPONSES[key], {})
    assert (result.input_tokens, result.output_tokens) == (None, None)
    result = extract(
        FAMILIES[key],
        RESPONSES[key],
        {"X-Amzn-Bedrock-Input-Token-Count": "5", "X-Amzn-Bedrock-Output-Token-Count": "3"},
    )
    assert (result.input_tokens, result.output_tokens) == (5, 3)


def test_header_fallback_when_body_lacks_usage() -> None:
    response = {"content": [{"type": "text", "text": "Hi"}]}
    result = extract(FAMILIES["anthropic"], response, {INPUT_TOKENS_HEADER: "4"})
    assert (result.input_tokens, result.output_tokens) == (4, None)


def test_body_counts_win_over_headers() -> None:
    result = extract(
        FAMILIES["llama"],
        RESPONSES["llama"],
        {INPUT_TOKENS_HEADER: "99", OUTPUT_TOKENS_HEADER: "99"},
    )
    assert (result.input_tokens, result.output_tokens) == (11, 7)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12", 12), (" 3 ", 3), ("x", None), ("-1", None), ("", None), ("1.5", None)],
)
def test_header_token_parsing(value: str, expected: int | None) -> None:
    result = extract(FAMILIES["cohere"], RESPONSES["cohere"], {INPUT_TOKENS_HEADER: value})
    assert result.input_tokens == expected


@pytest.mark.parametrize(
    ("usage", "expected"),
    [({"input_tokens": 5.0}, 5), ({"input_tokens": True}, None), ({"input_tokens": -3}, None)],
)
def test_body_token_parsing(usage: dict[str, object], expected: int | None) -> None:
    response = {"content": [{"type": "text", "text": "x"}], "usage": usage}
    assert extract(FAMILIES["anthropic"], response, {}).input_tokens == expected


@pytest.mark.parametrize(
    ("family", "response", "error"),
    [
        ("anthropic", {}, "The response is an empty JSON object."),
        (None, {}, "The response is an empty JSON object."),
        ("anthropic", {"content": []}, "The response has no 'content' text block."),
        (
            "anthropic",
            {"content": [{"type": "tool_use", "name": "x"}]},
            "The response has no 'content' text block.",
        ),
        ("anthropic", {"id": "x"}, "The response has no 'content' text block."),
        ("nova", {"output": {"message": {"content": []}}}, "output.message.content"),
        ("titan", {"results": []}, "'results'"),
        ("llama", {"stop_reason": "length"}, "'generation'"),
        ("mistral", {"outputs": []}, "'outputs'"),
        ("cohere", {"finish_reason": "x"}, "'text'"),
        ("ai21", {"choices": []}, "'choices'"),
        ("llama", {"generation": 42}, "is a number, not a string"),
        ("cohere", {"text": ["a"]}, "is a JSON array, not a string"),
        ("anthropic", [], "The response is a JSON array, not a JSON object."),
        ("anthropic", None, "The response is null, not a JSON object."),
        ("anthropic", 3, "The response is a number, not a JSON object."),
        (None, {"unexpected": 1}, "None of the known response shapes"),
        (
            "anthropic",
            {"message": "Malformed input request: max_tokens required"},
            "The response carries an error message instead of text: Malformed input request",
        ),
        (
            None,
            {"Message": "Too many requests"},
            "error message instead of text: Too many requests",
        ),
    ],
)
def test_extract_errors(family: str | None, response: object, error: str) -> None:
    chosen = FAMILIES[family] if family else None
    result = extract(chosen, response, HEADERS)
    assert result.text is None
    assert result.text_error is not None
    assert error in result.text_error
    # Tokens still come from the headers.
    assert (result.input_tokens, result.output_tokens) == (11, 7)


def test_extract_with_wrong_family_says_so() -> None:
    result = extract(FAMILIES["anthropic"], RESPONSES["nova"], {})
    assert result.text is None
    assert result.text_error == "The response has no 'content' text block."


def test_extract_decodes_json_text_and_bytes() -> None:
    body = json.dumps(RESPONSES["anthropic"])
    assert extract(FAMILIES["anthropic"], body, {}).text == "Hello!"
    assert extract(None, body.encode(), {}).text == "Hello!"
    assert extract(None, b"not json", {}).text_error == "The response body is not JSON."
    assert extract(None, b"\xff\xfe", {}).text_error == "The response body is not UTF-8 text."
    assert extract(None, "  ", {}).text_error == "The response body is empty."


def test_extract_empty_text_is_text() -> None:
    result = extract(FAMILIES["cohere"], {"text": ""}, {})
    assert result.text == ""
    assert result.text_error is None


def test_extract_headers_optional() -> None:
    result = extract(FAMILIES["cohere"], RESPONSES["cohere"], None)
    assert result.text == "Hello!"
    assert result.input_tokens is None


def test_long_error_messages_are_clipped() -> None:
    result = extract(None, {"message": "e" * 1000}, {})
    assert result.text_error is not None
    assert len(result.text_error) < 300


STOP_REASONS = {
    "anthropic": "end_turn",
    "nova": "end_turn",
    "titan": "FINISH",
    "llama": "stop",
    "mistral": "stop",
    "cohere": "COMPLETE",
    "ai21": None,  # the sample has no finish_reason
}


@pytest.mark.parametrize("key", list(FAMILIES))
def test_extract_reads_the_stop_reason(key: str) -> None:
    assert extract(FAMILIES[key], RESPONSES[key]).stop_reason == STOP_REASONS[key]
    assert extract(None, RESPONSES[key]).stop_reason == STOP_REASONS[key]


def test_the_stop_reason_of_a_jamba_answer() -> None:
    response = {"choices": [{"message": {"content": "Hi"}, "finish_reason": "length"}]}
    assert extract(FAMILIES["ai21"], response).stop_reason == "length"


PROMPT_PATHS = ResponsePaths("content[0].text", "usage.input_tokens", "usage.output_tokens")


def test_extract_at_a_prompts_paths() -> None:
    response = {
        "content": [{"text": "Bonjour"}],
        "usage": {"input_tokens": 3, "output_tokens": 4},
        "stop_reason": "max_tokens",
    }
    result = extract(FAMILIES["anthropic"], response, paths=PROMPT_PATHS)
    assert (result.text, result.text_error) == ("Bonjour", None)
    assert (result.input_tokens, result.output_tokens) == (3, 4)
    assert result.stop_reason == "max_tokens"


@pytest.mark.parametrize(
    ("response", "error"),
    [
        ({"content": []}, "The Response path content[0].text finds nothing in this response."),
        ({"content": [{"text": {"a": 1}}]}, "finds a JSON object, not text"),
        ({"content": [{"text": [1]}]}, "finds a JSON array, not text"),
        ({}, "The response is an empty JSON object."),
        ("<html>", "The response body is not JSON."),
    ],
)
def test_extract_at_a_prompts_paths_says_why_there_is_no_text(response: object, error: str) -> None:
    result = extract(None, response, paths=PROMPT_PATHS)
    assert result.text is None
    assert error in (result.text_error or "")


def test_an_invalid_response_path_is_named() -> None:
    result = extract(None, {"a": 1}, paths=ResponsePaths("content[?"))
    assert (result.text_error or "").startswith("The Response path is not valid JMESPath")


def test_a_prompts_token_paths_fall_back_to_the_headers_only() -> None:
    response = {"content": [{"text": "x"}], "usage": {"input_tokens": 99}}
    result = extract(
        FAMILIES["anthropic"], response, HEADERS, paths=ResponsePaths("content[0].text")
    )
    assert (result.input_tokens, result.output_tokens) == (11, 7)


@pytest.mark.parametrize(
    ("count", "expected"),
    [(12, 12), (12.0, 12), ("12", 12), (12.5, None), (-1, None), (True, None)],
)
def test_one_token_count_rule_for_family_and_prompt_paths(count: object, expected: object) -> None:
    # Prompt tests and the Invoke API once dropped a count written as 12.0; both readers agree now.
    response = {"content": [{"type": "text", "text": "x"}], "usage": {"input_tokens": count}}
    assert extract(FAMILIES["anthropic"], response).input_tokens == expected
    assert extract(None, response, paths=PROMPT_PATHS).input_tokens == expected
