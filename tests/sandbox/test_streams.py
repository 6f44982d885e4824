"""ConverseStream and InvokeModelWithResponseStream read by real boto3 over HTTP."""

from __future__ import annotations

import itertools
import json
import struct
import time
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError

from sandbox import DEMO_MODEL_ID
from sandbox.server import SandboxServer

from .families import FAMILIES, Family
from .helpers import chunks_of, invoke_json, invoke_path, send_raw, signed_request, stream_text

REPLY = "Hello from the Bedrock sandbox. You said: "
HELLO = [{"role": "user", "content": [{"text": "Hi there stream"}]}]
PROVISIONED = "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abcdef012345"


@pytest.mark.parametrize("model_id", [f.model_id for f in FAMILIES] + [PROVISIONED])
def test_converse_stream_sends_the_converse_answer_word_by_word(
    bedrock: Any, model_id: str
) -> None:
    config = {"maxTokens": 100}
    whole = bedrock.converse(modelId=model_id, messages=HELLO, inferenceConfig=config)
    response = bedrock.converse_stream(modelId=model_id, messages=HELLO, inferenceConfig=config)
    events = list(response["stream"])
    names = [next(iter(e)) for e in events]
    words = [*REPLY.split(), "Hi", "there", "stream"]
    tail = ["contentBlockStop", "messageStop", "metadata"]
    assert names == ["messageStart", *(["contentBlockDelta"] * len(words)), *tail]
    assert events[0]["messageStart"] == {"role": "assistant"}
    deltas = [e["contentBlockDelta"]["delta"]["text"] for e in events[1:-3]]
    assert [d.strip() for d in deltas] == words
    assert stream_text(events) == whole["output"]["message"]["content"][0]["text"]
    assert events[-2]["messageStop"] == {"stopReason": "end_turn"}
    assert events[-1]["metadata"]["usage"] == whole["usage"]
    assert events[-1]["metadata"]["metrics"]["latencyMs"] >= 0
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers["x-amzn-requestid"]


def test_converse_stream_stops_at_max_tokens(bedrock: Any) -> None:
    response = bedrock.converse_stream(
        modelId=DEMO_MODEL_ID, messages=HELLO, inferenceConfig={"maxTokens": 2}
    )
    events = list(response["stream"])
    assert stream_text(events) == "Hello from"
    assert events[-2]["messageStop"]["stopReason"] == "max_tokens"
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 2


def test_converse_stream_of_a_tool_use_starts_its_block(bedrock: Any) -> None:
    tool = {"toolSpec": {"name": "lookup", "inputSchema": {"json": {"properties": {"q": {}}}}}}
    response = bedrock.converse_stream(
        modelId=DEMO_MODEL_ID,
        messages=HELLO,
        toolConfig={"tools": [tool], "toolChoice": {"any": {}}},
    )
    events = list(response["stream"])
    start = events[1]["contentBlockStart"]
    assert start["contentBlockIndex"] == 0
    assert start["start"]["toolUse"]["name"] == "lookup"
    assert start["start"]["toolUse"]["toolUseId"].startswith("tooluse_")
    (delta,) = [e["contentBlockDelta"]["delta"] for e in events if "contentBlockDelta" in e]
    assert json.loads(delta["toolUse"]["input"]) == {"q": "sandbox"}
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"


@pytest.mark.parametrize("family", FAMILIES, ids=str)
def test_invoke_stream_sends_each_familys_own_chunks(bedrock: Any, family: Family) -> None:
    body = family.body("Hi there stream", 100, [])
    headers, whole = invoke_json(bedrock, family.model_id, body)
    response = bedrock.invoke_model_with_response_stream(
        modelId=family.model_id, body=json.dumps(body)
    )
    assert response["contentType"] == "application/json"
    chunks = chunks_of(response)
    texts = [family.chunk_text(c) for c in chunks]
    words = [*REPLY.split(), "Hi", "there", "stream"]
    assert [t for t in texts if t] == [("" if i == 0 else " ") + w for i, w in enumerate(words)]
    assert "".join(texts) == family.text(whole)
    stops = [s for s in map(family.chunk_stop, chunks) if s is not None]
    assert stops == [family.stop_names[0]]
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == int(headers["x-amzn-bedrock-input-token-count"])
    assert metrics["outputTokenCount"] == int(headers["x-amzn-bedrock-output-token-count"])
    assert metrics["invocationLatency"] >= metrics["firstByteLatency"] >= 0
    assert all("amazon-bedrock-invocationMetrics" not in c for c in chunks[:-1])


def test_anthropic_stream_events_in_order(bedrock: Any) -> None:
    body = FAMILIES[0].body("Hi", 2, [])
    chunks = chunks_of(
        bedrock.invoke_model_with_response_stream(modelId=DEMO_MODEL_ID, body=json.dumps(body))
    )
    assert [c["type"] for c in chunks] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = chunks[0]["message"]
    assert start["role"] == "assistant" and start["content"] == []
    assert start["usage"] == {"input_tokens": 1, "output_tokens": 1}
    assert chunks[2]["delta"] == {"type": "text_delta", "text": "Hello"}
    assert chunks[5]["delta"] == {"stop_reason": "max_tokens", "stop_sequence": None}
    assert chunks[5]["usage"] == {"output_tokens": 2}


def test_words_arrive_one_by_one_with_the_configured_interval(
    sandbox: SandboxServer, bedrock: Any
) -> None:
    sandbox.state.set_config(stream_interval_ms=60)
    started = time.perf_counter()
    response = bedrock.converse_stream(modelId=DEMO_MODEL_ID, messages=HELLO)
    arrivals: list[float] = []
    partial_texts: list[str] = []
    for event in response["stream"]:
        if "contentBlockDelta" in event:
            arrivals.append(time.perf_counter())
            if len(arrivals) <= 3:  # seen while the sandbox is still producing the stream
                assert "stream" not in sandbox.state.requests()[-1]
                partial_texts.append(event["contentBlockDelta"]["delta"]["text"])
    assert partial_texts == ["Hello", " from", " the"]
    assert len(arrivals) == 10
    assert time.perf_counter() - started >= 13 * 0.06  # 14 events, 13 pauses
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert sorted(gaps)[len(gaps) // 2] >= 0.04  # word by word, not in a burst


def test_a_delay_fault_paces_one_model_only(sandbox: SandboxServer, bedrock: Any) -> None:
    sandbox.state.add_fault("invoke", "delay", match="amazon.nova-*", interval_ms=60)
    started = time.perf_counter()
    list(bedrock.converse_stream(modelId=DEMO_MODEL_ID, messages=HELLO)["stream"])
    assert time.perf_counter() - started < 0.6
    started = time.perf_counter()
    list(bedrock.converse_stream(modelId="amazon.nova-lite-v1:0", messages=HELLO)["stream"])
    assert time.perf_counter() - started >= 13 * 0.06  # 14 events, 13 gaps


def test_the_wire_format_is_aws_event_stream(
    sandbox: SandboxServer, assume: Callable[..., Any]
) -> None:
    body = json.dumps({"messages": HELLO, "inferenceConfig": {"maxTokens": 3}}).encode()
    path = invoke_path(DEMO_MODEL_ID, "converse-stream")
    request = signed_request(sandbox.url, assume(), path, body)
    response = send_raw(sandbox.url, "POST", path, body, dict(request.headers.items()))
    assert response.status == 200
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    assert response.headers["transfer-encoding"] == "chunked"
    data, offset, frames = response.body, 0, []
    while offset < len(data):
        total, _, prelude_crc = struct.unpack(">III", data[offset : offset + 12])
        frame = data[offset : offset + total]
        assert prelude_crc == zlib.crc32(frame[:8])
        assert struct.unpack(">I", frame[-4:])[0] == zlib.crc32(frame[:-4])
        frames.append(frame)
        offset += total
    assert offset == len(data) and len(frames) == 7
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    messages = list(buffer)
    assert [m.headers[":event-type"] for m in messages] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    for message in messages:
        assert message.headers[":message-type"] == "event"
        assert message.headers[":content-type"] == "application/json"
        assert "p" in json.loads(message.payload)  # Bedrock's filler


def test_streams_are_counted_and_logged(sandbox: SandboxServer, bedrock: Any) -> None:
    body = json.dumps(FAMILIES[0].body("Hi", 10, []))
    list(bedrock.converse_stream(modelId=DEMO_MODEL_ID, messages=HELLO)["stream"])
    chunks_of(bedrock.invoke_model_with_response_stream(modelId=DEMO_MODEL_ID, body=body))
    bedrock.invoke_model(modelId=DEMO_MODEL_ID, body=body)
    stats = sandbox.state.stats()
    assert stats["invoke_calls"] == 3
    assert stats["calls_by_operation"] == {
        "ConverseStream": 1,
        "InvokeModelWithResponseStream": 1,
        "InvokeModel": 1,
    }
    converse, invoke_stream, invoke = sandbox.state.requests()
    assert converse["operation"] == "ConverseStream"
    assert converse["stream"] == {"events": 14, "ended": "complete"}
    assert (converse["status"], converse["error_code"]) == (200, None)
    assert invoke_stream["operation"] == "InvokeModelWithResponseStream"
    assert invoke_stream["stream"] == {"events": 13, "ended": "complete"}  # 8 words + 5
    assert "stream" not in invoke


def test_a_client_that_leaves_mid_stream_is_logged(sandbox: SandboxServer, bedrock: Any) -> None:
    sandbox.state.set_config(stream_interval_ms=30)
    response = bedrock.converse_stream(modelId=DEMO_MODEL_ID, messages=HELLO)
    stream = iter(response["stream"])
    next(stream), next(stream)
    response["stream"].close()
    deadline = time.monotonic() + 3
    while "stream" not in sandbox.state.requests()[-1] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sandbox.state.requests()[-1]["stream"]["ended"] == "client_gone"
    assert bedrock.converse(modelId=DEMO_MODEL_ID, messages=HELLO)["stopReason"] == "end_turn"


def test_many_streams_on_one_client_reuse_connections(bedrock: Any) -> None:
    for index in range(20):
        messages = [{"role": "user", "content": [{"text": f"call {index}"}]}]
        events = list(bedrock.converse_stream(modelId=DEMO_MODEL_ID, messages=messages)["stream"])
        assert stream_text(events) == f"{REPLY}call {index}"


# -- access --------------------------------------------------------------------------------

INVOKE_ONLY = "arn:aws:iam::444455556666:role/InvokeOnly"


def _stream_calls(client: Any) -> list[Callable[[], Any]]:
    body = json.dumps(FAMILIES[0].body("Hi", 10, []))
    return [
        lambda: list(client.converse_stream(modelId=DEMO_MODEL_ID, messages=HELLO)["stream"]),
        lambda: chunks_of(
            client.invoke_model_with_response_stream(modelId=DEMO_MODEL_ID, body=body)
        ),
    ]


def test_a_role_without_the_streaming_action_may_not_stream(
    sandbox: SandboxServer, assume: Callable[..., Any], make_bedrock: Callable[..., Any]
) -> None:
    sandbox.state.add_role(INVOKE_ONLY, "ext-invoke", ["*"], ["bedrock:InvokeModel"])
    client = make_bedrock(assume(INVOKE_ONLY, "ext-invoke", "invoke-only"))
    assert client.converse(modelId=DEMO_MODEL_ID, messages=HELLO)["stopReason"] == "end_turn"
    invoke_json(client, DEMO_MODEL_ID)
    for call in _stream_calls(client):
        with pytest.raises(ClientError) as caught:
            call()
        error = caught.value.response
        assert error["Error"]["Code"] == "AccessDeniedException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert error["Error"]["Message"] == (
            "User: arn:aws:sts::444455556666:assumed-role/InvokeOnly/invoke-only is not "
            "authorized to perform: bedrock:InvokeModelWithResponseStream on resource: "
            f"arn:aws:bedrock:us-east-1::foundation-model/{DEMO_MODEL_ID} because no "
            "identity-based policy allows the bedrock:InvokeModelWithResponseStream action"
        )
    assert [e["error_code"] for e in sandbox.state.requests()[-2:]] == ["AccessDeniedException"] * 2


def test_a_stream_only_role_may_not_invoke(
    sandbox: SandboxServer, assume: Callable[..., Any], make_bedrock: Callable[..., Any]
) -> None:
    sandbox.state.add_role(INVOKE_ONLY, None, ["*"], ["bedrock:InvokeModelWithResponseStream"])
    client = make_bedrock(assume(INVOKE_ONLY, None))
    for call in _stream_calls(client):
        call()
    with pytest.raises(ClientError) as caught:
        client.converse(modelId=DEMO_MODEL_ID, messages=HELLO)
    assert "perform: bedrock:InvokeModel on resource" in caught.value.response["Error"]["Message"]


def test_streams_check_the_model_access_of_the_role(
    sandbox: SandboxServer, assume: Callable[..., Any], make_bedrock: Callable[..., Any]
) -> None:
    sandbox.state.add_role(INVOKE_ONLY, None, ["amazon.*"])
    client = make_bedrock(assume(INVOKE_ONLY, None))
    list(client.converse_stream(modelId="amazon.nova-lite-v1:0", messages=HELLO)["stream"])
    for call in _stream_calls(client):
        with pytest.raises(ClientError) as caught:
            call()
        message = caught.value.response["Error"]["Message"]
        assert "not authorized to perform: bedrock:InvokeModelWithResponseStream" in message
        assert "because" not in message  # the action is allowed, the model is not


def test_the_platform_key_may_not_stream(make_bedrock: Callable[..., Any]) -> None:
    from sandbox import PLATFORM_ACCESS_KEY_ID, PLATFORM_SECRET_ACCESS_KEY

    client = make_bedrock(
        {"AccessKeyId": PLATFORM_ACCESS_KEY_ID, "SecretAccessKey": PLATFORM_SECRET_ACCESS_KEY}
    )
    with pytest.raises(ClientError) as caught:
        list(client.converse_stream(modelId=DEMO_MODEL_ID, messages=HELLO)["stream"])
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_expired_credentials_may_not_stream(sandbox: SandboxServer, bedrock: Any) -> None:
    sandbox.state.expire_credentials()
    with pytest.raises(ClientError) as caught:
        bedrock.converse_stream(modelId=DEMO_MODEL_ID, messages=HELLO)
    assert caught.value.response["Error"]["Code"] == "ExpiredTokenException"


def test_streams_need_an_inference_profile_like_invoke(bedrock: Any) -> None:
    model = "anthropic.claude-3-7-sonnet-20250219-v1:0"
    with pytest.raises(ClientError) as caught:
        bedrock.converse_stream(modelId=model, messages=HELLO)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "on-demand throughput isn't supported" in caught.value.response["Error"]["Message"]
    body = json.dumps(FAMILIES[0].body("Hi", 10, []))
    with pytest.raises(ClientError):
        bedrock.invoke_model_with_response_stream(modelId=model, body=body)
    assert chunks_of(bedrock.invoke_model_with_response_stream(modelId="us." + model, body=body))


def test_a_malformed_stream_request_fails_before_the_stream(bedrock: Any) -> None:
    with pytest.raises(ClientError) as caught:
        bedrock.invoke_model_with_response_stream(
            modelId=DEMO_MODEL_ID, body=json.dumps({"anthropic_version": "x", "messages": []})
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as caught:
        bedrock.converse_stream(modelId=DEMO_MODEL_ID, messages=[])
    assert "must start with a user message" in caught.value.response["Error"]["Message"]


def test_the_log_of_a_stream_holds_header_names_only(sandbox: SandboxServer, bedrock: Any) -> None:
    def add_header(request: Any, **kwargs: Any) -> None:
        request.headers["X-Tenant-Id"] = "signed-secret-value"

    bedrock.meta.events.register("before-sign.bedrock-runtime.ConverseStream", add_header)
    list(bedrock.converse_stream(modelId=DEMO_MODEL_ID, messages=HELLO)["stream"])
    (entry,) = sandbox.state.requests()
    assert "x-tenant-id" in entry["signed_headers"]
    assert entry["extra_headers"] == ["x-tenant-id"]
    assert "secret-value" not in json.dumps(entry)
    assert "x-amz-security-token" in entry["signed_headers"]
    assert not any(creds in json.dumps(entry) for creds in ("ASIA", "FwoGZXIvYXdz"))
