"""bedrock.invoke.call with the Converse request format against the sandbox (real boto3)."""

import dataclasses
import json

import pytest

from bedrock import invoke
from tests.bedrock.test_invoke import CONFIG, CONTEXT

CONVERSE = {
    "system": [{"text": "You are terse."}],
    "messages": [{"role": "user", "content": [{"text": "Hi there converse"}]}],
    "inferenceConfig": {"maxTokens": 256, "temperature": 0.2},
}
ANTHROPIC = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"
LLAMA = "meta.llama3-8b-instruct-v1:0"


def call(model_id, body=CONVERSE, pieces=None):
    config = dataclasses.replace(CONFIG, model_id=model_id)
    text = body if isinstance(body, str) else json.dumps(body)
    options = invoke.Options("console-test", on_text=pieces.append if pieces is not None else None)
    request = invoke.Request(text.encode(), format=invoke.CONVERSE)
    return invoke.call(config, request, options, CONTEXT)


@pytest.mark.django_db
def test_the_same_converse_request_gives_the_same_text_on_two_families(sandbox):
    results = [call(model_id) for model_id in (ANTHROPIC, NOVA, LLAMA)]
    for result in results:
        assert result.ok, result.error
        assert result.stop_reason == "end_turn"
        assert result.usage.input_tokens and result.usage.output_tokens
        assert result.request_id and result.http_status == 200
        assert json.loads(result.raw)["output"]["message"]["role"] == "assistant"
    assert {r.text for r in results} == {results[0].text}
    assert results[0].text.endswith("Hi there converse")
    assert [r["operation"] for r in sandbox.state.requests()[-3:]] == ["Converse"] * 3


@pytest.mark.django_db
def test_converse_stream_gives_the_same_text_piece_by_piece(sandbox):
    plain = call(NOVA)
    pieces: list[str] = []
    streamed = call(ANTHROPIC, pieces=pieces)
    assert streamed.ok, streamed.error
    assert len(pieces) > 3
    assert streamed.text == "".join(pieces) == plain.text
    assert streamed.usage == plain.usage
    assert streamed.stop_reason == plain.stop_reason == "end_turn"
    assert streamed.first_token_ms is not None
    assert sandbox.state.requests()[-1]["operation"] == "ConverseStream"


@pytest.mark.django_db
def test_max_tokens_is_the_stop_reason_when_the_answer_is_cut(sandbox):
    result = call(NOVA, {**CONVERSE, "inferenceConfig": {"maxTokens": 3}})
    assert (result.text, result.stop_reason, result.usage.output_tokens) == (
        "Hello from the",
        "max_tokens",
        3,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[]", "must be a JSON object"),
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "system", "content": [{"text": "x"}]}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": "Hi"}]}, "messages[0].content must be"),
        ({"messages": [{"role": "user", "content": [{"text": 1}]}]}, "content[0].text must be"),
        ({**CONVERSE, "inferenceConfig": {"maxTokens": 0}}, "maxTokens must be"),
        ({**CONVERSE, "inferenceConfig": {"maxTokens": 2**31}}, "from 1 to 2147483647"),
        ({**CONVERSE, "inferenceConfig": {"temperature": 3}}, "temperature must be"),
        ({**CONVERSE, "system": "Be brief"}, '"system" must be a list'),
        ({**CONVERSE, "anthropic_version": "x"}, "has no field 'anthropic_version'"),
        ({**CONVERSE, "toolConfig": []}, '"toolConfig" must be a JSON object'),
    ],
)
def test_a_bad_converse_request_fails_before_any_aws_call(sandbox, body, message):
    before = len(sandbox.state.requests())
    result = call(NOVA, body)
    assert not result.ok
    assert (result.error.step, result.error.code) == (invoke.INVOKE, invoke.INVALID_REQUEST)
    assert message in result.error.message
    assert len(sandbox.state.requests()) == before


@pytest.mark.django_db
def test_an_error_from_converse_is_mapped_as_for_invoke_model(sandbox):
    sandbox.state.add_fault(
        "invoke", "error", operation="Converse", code="AccessDeniedException", status=403
    )
    result = call(NOVA)
    assert not result.ok and result.text is None
    assert (result.error.step, result.error.code) == (invoke.INVOKE, "AccessDeniedException")
    assert result.http_status == 403 and result.request_id
    assert "bedrock:InvokeModel" in result.error.hint


@pytest.mark.django_db
def test_a_converse_stream_broken_mid_way_keeps_the_text_and_the_error(sandbox):
    sandbox.state.add_fault(
        "invoke", "stream_error", operation="ConverseStream", after=3, code="throttlingException"
    )
    pieces: list[str] = []
    result = call(ANTHROPIC, pieces=pieces)
    assert not result.ok
    assert result.text == "".join(pieces) and pieces
    assert result.error.code == "ThrottlingException"
