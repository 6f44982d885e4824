"""Faults of streamed answers, seen through boto3: broken, cut, throttled, slow to start."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from sandbox import DEMO_MODEL_ID
from sandbox.server import SandboxServer

from .families import FAMILIES, Family
from .helpers import invoke_json, stream_text

HELLO = [{"role": "user", "content": [{"text": "Hi there stream"}]}]
ANTHROPIC_BODY = json.dumps(FAMILIES[0].body("Hi there stream", 100, []))


def _read(stream: Any) -> tuple[list[dict[str, Any]], BaseException | None]:
    """The events a consumer got before the stream ended, and the error that ended it.

    While iterating, botocore raises its EventStreamError for an exception event, and lets
    urllib3's own errors through for a connection that closes or times out mid-stream.
    """
    events: list[dict[str, Any]] = []
    try:
        for event in stream:
            events.append(event)
    except (EventStreamError, ProtocolError, ReadTimeoutError) as error:
        return events, error
    return events, None


def _converse_stream(client: Any, model_id: str = DEMO_MODEL_ID) -> Any:
    return client.converse_stream(modelId=model_id, messages=HELLO)["stream"]


def _ended(sandbox: SandboxServer) -> dict[str, Any]:
    """The last request's log entry once its stream has ended."""
    deadline = time.monotonic() + 3
    while "stream" not in sandbox.state.requests()[-1] and time.monotonic() < deadline:
        time.sleep(0.01)
    return sandbox.state.requests()[-1]


@pytest.mark.parametrize(
    "code",
    [
        "modelStreamErrorException",
        "internalServerException",
        "throttlingException",
        "serviceUnavailableException",
        "validationException",
    ],
)
def test_a_converse_stream_broken_by_an_exception_event(
    sandbox: SandboxServer, bedrock: Any, code: str
) -> None:
    sandbox.state.add_fault("invoke", "stream_error", after=2, code=code, times=1)
    events, error = _read(_converse_stream(bedrock))
    assert [next(iter(e)) for e in events] == ["messageStart", *["contentBlockDelta"] * 2]
    assert stream_text(events) == "Hello from"
    assert isinstance(error, EventStreamError)
    assert error.response["Error"]["Code"] == code
    assert error.response["Error"]["Message"]
    entry = _ended(sandbox)
    assert entry["stream"] == {"events": 4, "ended": "exception"}
    assert (entry["status"], entry["error_code"]) == (200, code)
    assert stream_text(_read(_converse_stream(bedrock))[0]).endswith("Hi there stream")


def test_the_model_stream_error_carries_its_original_status_and_message(
    sandbox: SandboxServer, bedrock: Any
) -> None:
    sandbox.state.add_fault("invoke", "stream_error", after=0, message="the GPU caught fire")
    events, error = _read(_converse_stream(bedrock))
    assert events == [{"messageStart": {"role": "assistant"}}]
    assert isinstance(error, EventStreamError)
    assert error.response["Error"] == {
        "Code": "modelStreamErrorException",
        "Message": "the GPU caught fire",
    }


@pytest.mark.parametrize("family", FAMILIES, ids=str)
def test_an_invoke_stream_broken_by_an_exception_event(
    sandbox: SandboxServer, bedrock: Any, family: Family
) -> None:
    sandbox.state.add_fault("invoke", "stream_error", after=3, code="InternalServerException")
    response = bedrock.invoke_model_with_response_stream(
        modelId=family.model_id, body=json.dumps(family.body("Hi there stream", 100, []))
    )
    events, error = _read(response["body"])
    chunks = [json.loads(e["chunk"]["bytes"]) for e in events]
    assert "".join(map(family.chunk_text, chunks)) == "Hello from the"
    assert all("amazon-bedrock-invocationMetrics" not in c for c in chunks)
    assert isinstance(error, EventStreamError)
    assert error.response["Error"]["Code"] == "internalServerException"


def test_a_stream_error_after_the_last_word_still_breaks_the_stream(
    sandbox: SandboxServer, bedrock: Any
) -> None:
    sandbox.state.add_fault("invoke", "stream_error", after=1000, code="modelTimeoutException")
    response = bedrock.invoke_model_with_response_stream(
        modelId="mistral.mistral-7b-instruct-v0:2",
        body=json.dumps(FAMILIES[4].body("Hi", 100, [])),
    )
    events, error = _read(response["body"])
    chunks = [json.loads(e["chunk"]["bytes"]) for e in events]
    assert "".join(c["outputs"][0]["text"] for c in chunks).endswith("You said: Hi")
    assert all(c["outputs"][0]["stop_reason"] is None for c in chunks)
    assert isinstance(error, EventStreamError)
    assert error.response["Error"]["Code"] == "modelTimeoutException"


@pytest.mark.parametrize("operation", ["ConverseStream", "InvokeModelWithResponseStream"])
def test_a_stream_cut_mid_frame(sandbox: SandboxServer, bedrock: Any, operation: str) -> None:
    sandbox.state.add_fault("invoke", "stream_cut", after=4, times=1)
    if operation == "ConverseStream":
        events, error = _read(_converse_stream(bedrock))
        assert stream_text(events) == "Hello from the Bedrock"
    else:
        response = bedrock.invoke_model_with_response_stream(
            modelId=DEMO_MODEL_ID, body=ANTHROPIC_BODY
        )
        events, error = _read(response["body"])
        assert len(events) == 2 + 4  # message_start, content_block_start, four words
    assert isinstance(error, ProtocolError)  # the connection closed inside a frame
    entry = _ended(sandbox)
    assert entry["operation"] == operation
    assert entry["stream"]["ended"] == "cut"
    assert stream_text(_read(_converse_stream(bedrock))[0]).endswith("Hi there stream")


def test_throttling_before_the_stream_is_an_http_429(sandbox: SandboxServer, bedrock: Any) -> None:
    sandbox.state.add_fault("invoke", "throttle", times=2)
    with pytest.raises(ClientError) as caught:
        bedrock.converse_stream(modelId=DEMO_MODEL_ID, messages=HELLO)
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    with pytest.raises(ClientError) as caught:
        bedrock.invoke_model_with_response_stream(modelId=DEMO_MODEL_ID, body=ANTHROPIC_BODY)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert _read(_converse_stream(bedrock))[1] is None


def test_throttling_inside_the_stream_is_an_exception_event(
    sandbox: SandboxServer, bedrock: Any
) -> None:
    sandbox.state.add_fault("invoke", "stream_error", code="ThrottlingException", after=5)
    response = bedrock.converse_stream(modelId=DEMO_MODEL_ID, messages=HELLO)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    events, error = _read(response["stream"])
    assert stream_text(events) == "Hello from the Bedrock sandbox."
    assert isinstance(error, EventStreamError)
    assert error.response["Error"]["Code"] == "throttlingException"


def test_a_slow_first_byte(sandbox: SandboxServer, bedrock: Any) -> None:
    sandbox.state.add_fault("invoke", "slow_first_byte", ms=800, times=1)
    started = time.perf_counter()
    response = bedrock.invoke_model_with_response_stream(modelId=DEMO_MODEL_ID, body=ANTHROPIC_BODY)
    head = time.perf_counter() - started
    first = next(iter(response["body"]))
    first_event = time.perf_counter() - started
    rest = [json.loads(e["chunk"]["bytes"]) for e in response["body"]]
    assert head < 0.5 and first_event >= 0.8  # the head at once, the first event late
    assert json.loads(first["chunk"]["bytes"])["type"] == "message_start"
    assert rest[-1]["amazon-bedrock-invocationMetrics"]["firstByteLatency"] >= 800


def test_a_slow_first_byte_times_out_a_hasty_reader(
    sandbox: SandboxServer, make_bedrock: Callable[..., Any], assume: Callable[..., Any]
) -> None:
    sandbox.state.add_fault("invoke", "slow_first_byte", ms=3000, match="amazon.*", times=1)
    client = make_bedrock(assume(), read_timeout=0.8)
    stream = _converse_stream(client, "amazon.nova-lite-v1:0")  # the head comes at once
    events, error = _read(stream)
    assert events == [] and isinstance(error, ReadTimeoutError)


def test_a_dripping_stream_still_parses(sandbox: SandboxServer, bedrock: Any) -> None:
    sandbox.state.add_fault("invoke", "drip", interval_ms=0, times=1)
    events, error = _read(_converse_stream(bedrock))
    assert error is None
    assert stream_text(events).endswith("Hi there stream")


def test_a_stalled_drip_times_out_the_reader(
    sandbox: SandboxServer, make_bedrock: Callable[..., Any], assume: Callable[..., Any]
) -> None:
    sandbox.state.add_fault("invoke", "drip", interval_ms=2000, times=1)
    events, error = _read(_converse_stream(make_bedrock(assume(), read_timeout=0.6)))
    assert events == [] and isinstance(error, ReadTimeoutError)


def test_stream_faults_wait_for_a_stream(sandbox: SandboxServer, bedrock: Any) -> None:
    sandbox.state.add_fault("invoke", "stream_cut", after=0, times=1)
    invoke_json(bedrock, DEMO_MODEL_ID)
    bedrock.converse(modelId=DEMO_MODEL_ID, messages=HELLO)
    assert len(sandbox.state.faults()) == 1
    _, error = _read(_converse_stream(bedrock))
    assert isinstance(error, ProtocolError)
    assert sandbox.state.faults() == []


def test_a_fault_can_name_its_operation(sandbox: SandboxServer, bedrock: Any) -> None:
    sandbox.state.add_fault("invoke", "throttle", operation="Converse*", times=5)
    invoke_json(bedrock, DEMO_MODEL_ID)
    chunks = bedrock.invoke_model_with_response_stream(modelId=DEMO_MODEL_ID, body=ANTHROPIC_BODY)
    assert list(chunks["body"])
    for call in (bedrock.converse, bedrock.converse_stream):
        with pytest.raises(ClientError) as caught:
            call(modelId=DEMO_MODEL_ID, messages=HELLO)
        assert caught.value.response["Error"]["Code"] == "ThrottlingException"


@pytest.mark.parametrize(
    ("code", "status"), [("ModelNotReadyException", 429), ("ServiceUnavailableException", 503)]
)
def test_an_error_fault_answers_a_stream_request_with_an_http_error(
    sandbox: SandboxServer, bedrock: Any, code: str, status: int
) -> None:
    sandbox.state.add_fault("invoke", "error", code=code, status=status, times=1)
    with pytest.raises(ClientError) as caught:
        bedrock.converse_stream(modelId=DEMO_MODEL_ID, messages=HELLO)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_a_reset_ends_a_slow_stream(sandbox: SandboxServer, bedrock: Any) -> None:
    sandbox.state.set_config(stream_interval_ms=2000)
    stream = _converse_stream(bedrock)
    timer = threading.Timer(0.3, sandbox.state.reset)
    timer.start()
    started = time.perf_counter()
    events, error = _read(stream)
    timer.join()
    assert time.perf_counter() - started < 1.5
    assert [next(iter(e)) for e in events] == ["messageStart"]
    assert isinstance(error, ProtocolError)
