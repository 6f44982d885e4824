"""bedrock.invoke.call streaming (InvokeModelWithResponseStream) against the sandbox."""

import dataclasses
import json

import pytest

from bedrock import invoke
from tests.bedrock.test_invoke import CONFIG, CONTEXT
from tests.sandbox.families import FAMILIES


def call(model_id: str, body: str, pieces: list[str], stream: bool = True) -> invoke.Result:
    config = dataclasses.replace(CONFIG, model_id=model_id, request_json=body)
    options = invoke.Options("console-test", on_text=pieces.append if stream else None)
    return invoke.call(config, invoke.Request(body.encode()), options, CONTEXT)


@pytest.mark.django_db
@pytest.mark.parametrize("family", FAMILIES, ids=str)
def test_every_family_streams_the_same_text_as_the_plain_call(sandbox, family):
    body = json.dumps(family.body("Hi there stream", 100, []))
    pieces: list[str] = []
    streamed = call(family.model_id, body, pieces)
    plain = call(family.model_id, body, [], stream=False)
    assert streamed.ok, streamed.error
    assert len(pieces) > 3  # word by word
    assert streamed.text == "".join(pieces) == plain.text
    assert streamed.usage == plain.usage and streamed.usage.output_tokens
    assert streamed.stop_reason == plain.stop_reason
    assert streamed.first_token_ms is not None
    assert streamed.first_token_ms <= streamed.timings.model_ms
    assert sandbox.state.requests()[-2]["operation"] == "InvokeModelWithResponseStream"


@pytest.mark.django_db
def test_a_stream_broken_mid_way_keeps_the_text_with_the_error_code_and_hint(sandbox):
    family = FAMILIES[0]
    sandbox.state.add_fault("invoke", "stream_error", after=3, code="modelStreamErrorException")
    pieces: list[str] = []
    result = call(family.model_id, json.dumps(family.body("Hi", 100, [])), pieces)
    assert not result.ok
    assert result.text == "".join(pieces) == "Hello from the"
    assert result.error.step == invoke.INVOKE
    assert result.error.code == "ModelStreamErrorException"
    assert "stream broke" in result.error.hint


@pytest.mark.django_db
def test_a_connection_cut_mid_stream_is_a_broken_stream(sandbox):
    family = FAMILIES[0]
    sandbox.state.add_fault("invoke", "stream_cut", after=4, times=1)
    result = call(family.model_id, json.dumps(family.body("Hi", 100, [])), [])
    assert (result.error.code, result.text) == ("StreamBroken", "Hello from the Bedrock")
