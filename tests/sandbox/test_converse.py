"""Converse with real boto3: one request for every family, validated like Bedrock."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox import DEMO_MODEL_ID

from .families import FAMILIES
from .helpers import error_of, invoke_path, send_raw, signed_request

REPLY = "Hello from the Bedrock sandbox. You said: "
HELLO = [{"role": "user", "content": [{"text": "Hi there converse"}]}]
PROVISIONED = "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abcdef012345"
WEATHER_TOOL = {
    "toolSpec": {
        "name": "get_weather",
        "description": "The weather in a city",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            }
        },
    }
}


@pytest.mark.parametrize("model_id", [f.model_id for f in FAMILIES] + [PROVISIONED])
def test_the_same_request_works_on_every_family(bedrock: Any, model_id: str) -> None:
    response = bedrock.converse(
        modelId=model_id,
        system=[{"text": "You are terse."}],
        messages=HELLO,
        inferenceConfig={"maxTokens": 256, "temperature": 0.2, "topP": 0.9},
    )
    assert response["output"]["message"] == {
        "role": "assistant",
        "content": [{"text": REPLY + "Hi there converse"}],
    }
    assert response["stopReason"] == "end_turn"
    assert response["usage"] == {"inputTokens": 6, "outputTokens": 10, "totalTokens": 16}
    assert response["metrics"]["latencyMs"] >= 0
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_max_tokens_cuts_the_answer(bedrock: Any) -> None:
    response = bedrock.converse(
        modelId="amazon.nova-lite-v1:0", messages=HELLO, inferenceConfig={"maxTokens": 3}
    )
    assert response["output"]["message"]["content"] == [{"text": "Hello from the"}]
    assert response["stopReason"] == "max_tokens"
    assert response["usage"]["outputTokens"] == 3


def test_a_stop_sequence_ends_the_answer(bedrock: Any) -> None:
    messages = [{"role": "user", "content": [{"text": "count one two END three"}]}]
    response = bedrock.converse(
        modelId="meta.llama3-8b-instruct-v1:0",
        messages=messages,
        inferenceConfig={"stopSequences": ["END", "zzz"]},
    )
    assert response["output"]["message"]["content"][0]["text"] == REPLY + "count one two "
    assert response["stopReason"] == "stop_sequence"


def test_a_conversation_answers_its_last_user_turn(bedrock: Any) -> None:
    messages = [
        {"role": "user", "content": [{"text": "first question"}]},
        {"role": "assistant", "content": [{"text": "first answer"}]},
        {"role": "user", "content": [{"text": "second"}, {"text": "question"}]},
    ]
    response = bedrock.converse(modelId="cohere.command-r-v1:0", messages=messages)
    assert response["output"]["message"]["content"][0]["text"] == REPLY + "second question"
    assert response["usage"]["inputTokens"] == 6


def test_additional_model_request_fields_are_checked_per_family(bedrock: Any) -> None:
    fine = bedrock.converse(
        modelId=DEMO_MODEL_ID, messages=HELLO, additionalModelRequestFields={"top_k": 50}
    )
    assert fine["stopReason"] == "end_turn"
    with pytest.raises(ClientError) as caught:
        bedrock.converse(
            modelId="amazon.titan-text-express-v1",
            messages=HELLO,
            additionalModelRequestFields={"top_k": 50},
        )
    assert error_of(caught) == (
        "ValidationException",
        "Malformed input request: #: extraneous key [top_k] is not permitted, please reformat "
        "your input and try again.",
        400,
    )


@pytest.mark.parametrize(
    ("messages", "model_id", "message"),
    [
        (
            [{"role": "assistant", "content": [{"text": "Hi"}]}],
            DEMO_MODEL_ID,
            "A conversation must start with a user message. Try again with a conversation that "
            "starts with a user message.",
        ),
        (
            [],
            DEMO_MODEL_ID,
            "A conversation must start with a user message. Try again with a conversation that "
            "starts with a user message.",
        ),
        (
            [*HELLO, *HELLO],
            DEMO_MODEL_ID,
            "A conversation must alternate between user and assistant roles. Make sure the "
            "conversation alternates between user and assistant roles and try again.",
        ),
        (
            [{"role": "user", "content": []}],
            DEMO_MODEL_ID,
            "The content field in the Message object at messages.0 is empty. Add a ContentBlock "
            "object to the content field and try again.",
        ),
        (
            [{"role": "user", "content": [{"text": "Hi"}, {"text": "  "}]}],
            DEMO_MODEL_ID,
            "The text field in the ContentBlock object at messages.0.content.1 is blank. Add "
            "text to the text field, and try again.",
        ),
        (
            [*HELLO, {"role": "assistant", "content": [{"text": "Sure,"}]}],
            "meta.llama3-8b-instruct-v1:0",
            "The model that you are using requires the last turn in the conversation to be a "
            "user message. Add a user message to the conversation and try again.",
        ),
        (
            [
                *HELLO,
                {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": "t1", "name": "x", "input": {}}}],
                },
                {
                    "role": "user",
                    "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "ok"}]}}],
                },
            ],
            DEMO_MODEL_ID,
            "The toolConfig field must be defined when using toolUse and toolResult content "
            "blocks.",
        ),
    ],
)
def test_conversation_rules(
    bedrock: Any, messages: list[dict[str, Any]], model_id: str, message: str
) -> None:
    with pytest.raises(ClientError) as caught:
        bedrock.converse(modelId=model_id, messages=messages)
    assert error_of(caught) == ("ValidationException", message, 400)


def test_an_assistant_prefill_is_fine_for_claude(bedrock: Any) -> None:
    messages = [*HELLO, {"role": "assistant", "content": [{"text": "Sure,"}]}]
    response = bedrock.converse(modelId=DEMO_MODEL_ID, messages=messages)
    assert response["stopReason"] == "end_turn"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"messages": [{"role": "bot", "content": [{"text": "Hi"}]}]},
            [
                "Value 'bot' at 'messages.1.member.role' failed to satisfy constraint: Member "
                "must satisfy enum value set: [user, assistant]"
            ],
        ),
        (
            {"messages": HELLO, "inferenceConfig": {"maxTokens": 0, "temperature": 1.5}},
            [
                "Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member "
                "must have value greater than or equal to 1",
                "Value '1.5' at 'inferenceConfig.temperature' failed to satisfy constraint: "
                "Member must have value less than or equal to 1",
            ],
        ),
        (
            {"messages": HELLO, "inferenceConfig": {"topP": -0.1, "stopSequences": [""]}},
            [
                "Value '-0.1' at 'inferenceConfig.topP' failed to satisfy constraint: Member "
                "must have value greater than or equal to 0",
                "Value '' at 'inferenceConfig.stopSequences.1.member' failed to satisfy "
                "constraint: Member must have length greater than or equal to 1",
            ],
        ),
        (
            {"messages": [{"role": "user", "content": [{"text": "a", "image": {}}]}]},
            [
                "at 'messages.1.member.content.1.member' failed to satisfy constraint: Member must "
                "have exactly one of these fields"
            ],
        ),
        (
            {"messages": HELLO, "system": [{"text": ""}, {"text": "fine"}]},
            [
                "Value '' at 'system.1.member.text' failed to satisfy constraint: Member must "
                "have length greater than or equal to 1"
            ],
        ),
        (
            {"messages": HELLO, "toolConfig": {"tools": []}},
            [
                "Value '[]' at 'toolConfig.tools' failed to satisfy constraint: Member must "
                "have length greater than or equal to 1"
            ],
        ),
    ],
)
def test_shape_errors_are_reported_together(
    sandbox: Any, assume: Callable[..., Any], body: dict[str, Any], errors: list[str]
) -> None:
    """boto3 refuses such requests itself, so these go over raw signed HTTP."""
    raw = json.dumps(body).encode()
    path = invoke_path(DEMO_MODEL_ID, "converse")
    request = signed_request(sandbox.url, assume(), path, raw)
    response = send_raw(sandbox.url, "POST", path, raw, dict(request.headers.items()))
    assert response.status == 400
    assert response.headers["x-amzn-errortype"] == "ValidationException"
    message = response.json()["message"]
    count = len(errors)
    assert message.startswith(f"{count} validation error{'s' if count > 1 else ''} detected: ")
    for error in errors:
        assert error in message


def test_a_forced_tool_choice_answers_with_a_tool_use(bedrock: Any) -> None:
    response = bedrock.converse(
        modelId="amazon.nova-lite-v1:0",
        messages=HELLO,
        toolConfig={"tools": [WEATHER_TOOL], "toolChoice": {"tool": {"name": "get_weather"}}},
    )
    (block,) = response["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "get_weather"
    assert block["toolUse"]["toolUseId"].startswith("tooluse_")
    assert block["toolUse"]["input"] == {"city": "sandbox", "days": 1}
    assert response["stopReason"] == "tool_use"


def test_tool_results_continue_the_conversation(bedrock: Any) -> None:
    messages = [
        *HELLO,
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}],
        },
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "sunny"}]}}],
        },
    ]
    response = bedrock.converse(
        modelId=DEMO_MODEL_ID, messages=messages, toolConfig={"tools": [WEATHER_TOOL]}
    )
    assert response["output"]["message"]["content"] == [{"text": REPLY + "sunny"}]
    assert response["stopReason"] == "end_turn"


@pytest.mark.parametrize(
    ("model_id", "tool_choice", "message"),
    [
        ("amazon.titan-text-express-v1", {"auto": {}}, "This model doesn't support tool use."),
        (
            "mistral.mistral-large-2402-v1:0",
            {"any": {}},
            "This model doesn't support the toolConfig.toolChoice.any field. Remove "
            "toolConfig.toolChoice.any and try again.",
        ),
        (
            DEMO_MODEL_ID,
            {"tool": {"name": "get_time"}},
            "The tool get_time named in toolConfig.toolChoice is not in toolConfig.tools.",
        ),
    ],
)
def test_tool_use_the_model_cannot_do(
    bedrock: Any, model_id: str, tool_choice: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as caught:
        bedrock.converse(
            modelId=model_id,
            messages=HELLO,
            toolConfig={"tools": [WEATHER_TOOL], "toolChoice": tool_choice},
        )
    assert error_of(caught) == ("ValidationException", message, 400)


def test_a_profile_only_model_needs_an_inference_profile(bedrock: Any) -> None:
    model = "anthropic.claude-3-7-sonnet-20250219-v1:0"
    with pytest.raises(ClientError) as caught:
        bedrock.converse(modelId=model, messages=HELLO)
    assert "with on-demand throughput isn't supported" in error_of(caught)[1]
    assert bedrock.converse(modelId="us." + model, messages=HELLO)["stopReason"] == "end_turn"


def test_a_malformed_body_is_a_validation_error(sandbox: Any, assume: Callable[..., Any]) -> None:
    path = invoke_path(DEMO_MODEL_ID, "converse")
    request = signed_request(sandbox.url, assume(), path, b"[1]")
    response = send_raw(sandbox.url, "POST", path, b"[1]", dict(request.headers.items()))
    assert response.status == 400
    assert "expected type: JSONObject, found: JSONArray" in response.json()["message"]


def test_converse_is_counted_and_logged(sandbox: Any, bedrock: Any) -> None:
    bedrock.converse(modelId=DEMO_MODEL_ID, messages=HELLO)
    (entry,) = sandbox.state.requests()
    assert entry["operation"] == "Converse"
    assert entry["status"] == 200
    assert sandbox.state.stats()["calls_by_operation"] == {"Converse": 1}
