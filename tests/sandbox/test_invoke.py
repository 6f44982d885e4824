"""bedrock-runtime InvokeModel with real boto3 clients and hand-signed requests."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import botocore.auth
import pytest
from botocore.exceptions import ClientError

from sandbox import (
    DEMO_MODEL_ID,
    PLATFORM_ACCESS_KEY_ID,
    PLATFORM_ARN,
    PLATFORM_SECRET_ACCESS_KEY,
)
from sandbox.server import SandboxServer

from .helpers import ANTHROPIC_BODY, error_of, invoke_json, invoke_path, send_raw, signed_request

PROFILE_ARN = (
    "arn:aws:bedrock:us-east-1:111122223333:inference-profile/"
    "us.anthropic.claude-3-haiku-20240307-v1:0"
)
LIMITED_ROLE = "arn:aws:iam::444455556666:role/OnlyHaiku"
REPLY = "Hello from the Bedrock sandbox. You said: "


@pytest.mark.parametrize(
    "model_id",
    [
        DEMO_MODEL_ID,
        "us.anthropic.claude-3-haiku-20240307-v1:0",
        PROFILE_ARN,
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abcdef012345",
    ],
)
def test_invoke_with_assumed_credentials(bedrock: Any, model_id: str) -> None:
    headers, answer = invoke_json(bedrock, model_id)
    assert answer["type"] == "message"
    assert answer["role"] == "assistant"
    assert answer["id"].startswith("msg_")
    assert answer["content"] == [{"type": "text", "text": REPLY + "Hi there sandbox"}]
    assert answer["stop_reason"] == "end_turn"
    assert answer["stop_sequence"] is None
    assert answer["usage"] == {"input_tokens": 3, "output_tokens": 10}
    assert headers["content-type"] == "application/json"
    assert headers["x-amzn-requestid"]
    assert headers["x-amzn-bedrock-input-token-count"] == "3"
    assert headers["x-amzn-bedrock-output-token-count"] == "10"
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 0


FAMILIES: list[tuple[str, dict[str, Any], Callable[[dict[str, Any]], Any]]] = [
    (
        "amazon.nova-lite-v1:0",
        {
            "messages": [{"role": "user", "content": [{"text": "Hi nova"}]}],
            "inferenceConfig": {"maxTokens": 256},
        },
        lambda a: (a["output"]["message"]["content"][0]["text"], a["usage"]["inputTokens"]),
    ),
    (
        "amazon.titan-text-express-v1",
        {"inputText": "User: Hi titan\nBot:", "textGenerationConfig": {"maxTokenCount": 256}},
        lambda a: (a["results"][0]["outputText"], a["results"][0]["tokenCount"]),
    ),
    (
        "meta.llama3-8b-instruct-v1:0",
        {
            "prompt": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi llama"
            "<|eot_id|><|start_header_id|>assistant<|end_header_id|>",
            "max_gen_len": 256,
        },
        lambda a: (a["generation"], a["generation_token_count"]),
    ),
    (
        "mistral.mistral-7b-instruct-v0:2",
        {"prompt": "<s>[INST] Hi mistral [/INST]", "max_tokens": 256},
        lambda a: (a["outputs"][0]["text"], a["outputs"][0]["stop_reason"]),
    ),
    (
        "cohere.command-r-v1:0",
        {"message": "Hi cohere", "max_tokens": 256},
        lambda a: (a["text"], a["finish_reason"]),
    ),
    (
        "ai21.jamba-1-5-mini-v1:0",
        {"messages": [{"role": "user", "content": "Hi jamba"}], "max_tokens": 256},
        lambda a: (a["choices"][0]["message"]["content"], a["usage"]["completion_tokens"]),
    ),
]


@pytest.mark.parametrize(("model_id", "body", "read"), FAMILIES, ids=lambda v: str(v)[:14])
def test_each_family_answers_in_its_own_shape(
    bedrock: Any, model_id: str, body: dict[str, Any], read: Callable[[dict[str, Any]], Any]
) -> None:
    headers, answer = invoke_json(bedrock, model_id, body)
    text, extra = read(answer)
    user_text = text.removeprefix(REPLY)
    assert text.startswith(REPLY)
    assert user_text.startswith("Hi ") and len(user_text.split()) == 2
    assert extra is not None
    assert headers["x-amzn-bedrock-output-token-count"] == str(len(text.split()))


def test_body_shape_wins_over_the_model_id(bedrock: Any) -> None:
    _, answer = invoke_json(bedrock, "amazon.nova-lite-v1:0", ANTHROPIC_BODY)
    assert answer["type"] == "message"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"anthropic_version": "bedrock-2023-05-31", "messages": []}, "[max_tokens]"),
        ({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5}, "[messages]"),
        ("[1, 2]", "expected type: JSONObject, found: JSONArray"),
        ("not json", "not valid JSON"),
    ],
)
def test_malformed_bodies(bedrock: Any, body: Any, fragment: str) -> None:
    with pytest.raises(ClientError) as caught:
        invoke_json(bedrock, DEMO_MODEL_ID, body)
    code, message, status = error_of(caught)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("Malformed input request: ")
    assert fragment in message


def test_profile_only_model_needs_an_inference_profile(bedrock: Any) -> None:
    model_id = "anthropic.claude-sonnet-4-20250514-v1:0"
    with pytest.raises(ClientError) as caught:
        invoke_json(bedrock, model_id)
    code, message, status = error_of(caught)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        f"Invocation of model ID {model_id} with on-demand throughput isn't supported. Retry "
        "your request with the ID or ARN of an inference profile that contains this model."
    )
    _, answer = invoke_json(bedrock, "us." + model_id)
    assert answer["type"] == "message"


def test_invalid_model_identifier(bedrock: Any) -> None:
    with pytest.raises(ClientError) as caught:
        invoke_json(bedrock, "../../etc/passwd")
    assert error_of(caught)[0::2] == ("ValidationException", 400)


def test_model_not_allowed_for_the_role(
    sandbox: SandboxServer, assume: Callable[..., dict[str, Any]], make_bedrock: Callable[..., Any]
) -> None:
    sandbox.state.add_role(LIMITED_ROLE, "ext-123456", ["anthropic.claude-3-haiku-*"])
    client = make_bedrock(assume(LIMITED_ROLE, "ext-123456", session_name="limited"))
    invoke_json(client, DEMO_MODEL_ID)
    with pytest.raises(ClientError) as caught:
        invoke_json(client, "amazon.nova-lite-v1:0")
    code, message, status = error_of(caught)
    assert (code, status) == ("AccessDeniedException", 403)
    assert message == (
        "User: arn:aws:sts::444455556666:assumed-role/OnlyHaiku/limited is not authorized to "
        "perform: bedrock:InvokeModel on resource: "
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"
    )


def test_platform_long_term_key_is_refused(make_bedrock: Callable[..., Any]) -> None:
    client = make_bedrock(
        {"AccessKeyId": PLATFORM_ACCESS_KEY_ID, "SecretAccessKey": PLATFORM_SECRET_ACCESS_KEY}
    )
    with pytest.raises(ClientError) as caught:
        invoke_json(client, DEMO_MODEL_ID)
    code, message, status = error_of(caught)
    assert (code, status) == ("AccessDeniedException", 403)
    assert message.startswith(f"User: {PLATFORM_ARN} is not authorized")


def test_wrong_session_token_is_refused(
    assume: Callable[..., dict[str, Any]], make_bedrock: Callable[..., Any]
) -> None:
    creds = assume()
    other = assume(session_name="another")
    client = make_bedrock({**creds, "SessionToken": other["SessionToken"]})
    with pytest.raises(ClientError) as caught:
        invoke_json(client, DEMO_MODEL_ID)
    assert error_of(caught) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        403,
    )


def test_unknown_key_is_unrecognized(make_bedrock: Callable[..., Any]) -> None:
    client = make_bedrock(
        {"AccessKeyId": "ASIAUNKNOWN000000000", "SecretAccessKey": "x", "SessionToken": "t"}
    )
    with pytest.raises(ClientError) as caught:
        invoke_json(client, DEMO_MODEL_ID)
    assert error_of(caught)[0::2] == ("UnrecognizedClientException", 403)


def test_wrong_secret_is_invalid_signature(
    assume: Callable[..., dict[str, Any]], make_bedrock: Callable[..., Any]
) -> None:
    client = make_bedrock({**assume(), "SecretAccessKey": "wrong"})
    with pytest.raises(ClientError) as caught:
        invoke_json(client, DEMO_MODEL_ID)
    assert error_of(caught)[0::2] == ("InvalidSignatureException", 403)


def test_expired_credentials_are_refused(
    sandbox: SandboxServer, assume: Callable[..., dict[str, Any]], make_bedrock: Callable[..., Any]
) -> None:
    creds = assume()
    client = make_bedrock(creds)
    invoke_json(client, DEMO_MODEL_ID)
    sandbox.state.expire_credentials(creds["AccessKeyId"])
    with pytest.raises(ClientError) as caught:
        invoke_json(client, DEMO_MODEL_ID)
    assert error_of(caught) == (
        "ExpiredTokenException",
        "The security token included in the request is expired",
        403,
    )


def test_clock_skew_is_signature_expired(bedrock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    early = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: early)
    with pytest.raises(ClientError) as caught:
        invoke_json(bedrock, DEMO_MODEL_ID)
    code, message, _ = error_of(caught)
    assert code == "InvalidSignatureException"
    assert message.startswith("Signature not yet current")
    late = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: late)
    with pytest.raises(ClientError, match="Signature expired"):
        invoke_json(bedrock, DEMO_MODEL_ID)


def test_tampered_body_is_refused(sandbox: SandboxServer, assume: Callable[..., Any]) -> None:
    creds = assume()
    body = json.dumps(ANTHROPIC_BODY).encode()
    path = invoke_path(PROFILE_ARN)
    request = signed_request(sandbox.url, creds, path, body)
    headers = dict(request.headers.items())
    intact = send_raw(sandbox.url, "POST", path, body, headers)
    assert intact.status == 200, intact.body
    tampered = body.replace(b"Hi there", b"Hi thera")
    refused = send_raw(sandbox.url, "POST", path, tampered, headers)
    assert refused.status == 403
    assert refused.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert "signature we calculated" in refused.json()["message"]


def test_content_sha256_header_must_match_the_body(
    sandbox: SandboxServer, assume: Callable[..., Any]
) -> None:
    body = json.dumps(ANTHROPIC_BODY).encode()
    path = invoke_path(DEMO_MODEL_ID)
    request = signed_request(
        sandbox.url, assume(), path, body, headers={"X-Amz-Content-SHA256": "0" * 64}
    )
    refused = send_raw(sandbox.url, "POST", path, body, dict(request.headers.items()))
    assert refused.status == 403
    assert "x-amz-content-sha256" in refused.json()["message"]


def test_missing_signed_header_is_refused(
    sandbox: SandboxServer, assume: Callable[..., Any]
) -> None:
    body = json.dumps(ANTHROPIC_BODY).encode()
    path = invoke_path(DEMO_MODEL_ID)
    request = signed_request(sandbox.url, assume(), path, body, headers={"X-Tenant": "t1"})
    headers = {k: v for k, v in request.headers.items() if k != "X-Tenant"}
    refused = send_raw(sandbox.url, "POST", path, body, headers)
    assert refused.status == 403
    assert "'x-tenant' is missing" in refused.json()["message"]


def test_bearer_token_is_refused(sandbox: SandboxServer) -> None:
    response = send_raw(
        sandbox.url,
        "POST",
        invoke_path(DEMO_MODEL_ID),
        json.dumps(ANTHROPIC_BODY).encode(),
        {"Authorization": "Bearer bedrock-api-key-abc", "Content-Type": "application/json"},
    )
    assert response.status == 403
    assert response.headers["x-amzn-errortype"] == "AccessDeniedException"
    assert "SigV4 only" in response.json()["message"]


def test_explicit_sigv4_ignores_a_bearer_token_in_the_environment(
    assume: Callable[..., Any], make_bedrock: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # boto3 would send AWS_BEARER_TOKEN_BEDROCK instead of SigV4 (and refuses it over plain
    # HTTP); a client configured with signature_version="v4" must keep signing.
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-abc")
    client = make_bedrock(assume())
    _, answer = invoke_json(client, DEMO_MODEL_ID)
    assert answer["type"] == "message"


def test_unsigned_invoke_is_missing_authentication(sandbox: SandboxServer) -> None:
    response = send_raw(sandbox.url, "POST", invoke_path(DEMO_MODEL_ID), b"{}")
    assert response.status == 403
    assert response.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


def test_recorded_requests_hold_header_names_only(
    sandbox: SandboxServer, assume: Callable[..., Any], make_bedrock: Callable[..., Any]
) -> None:
    client = make_bedrock(assume(session_name="recorder"))

    def add_signed(request: Any, **kwargs: Any) -> None:
        request.headers["X-Tenant-Id"] = "signed-secret-value"

    def add_unsigned(request: Any, **kwargs: Any) -> None:
        request.headers["X-Api-Key"] = "unsigned-secret-value"

    client.meta.events.register("before-sign.bedrock-runtime.InvokeModel", add_signed)
    client.meta.events.register("before-send.bedrock-runtime.InvokeModel", add_unsigned)
    invoke_json(client, PROFILE_ARN)

    (entry,) = sandbox.state.requests()
    assert entry["model_id"] == PROFILE_ARN
    assert entry["role_arn"] == "arn:aws:iam::111122223333:role/BedrockConsoleSandbox"
    assert entry["session_name"] == "recorder"
    assert entry["status"] == 200
    assert "x-tenant-id" in entry["signed_headers"]
    assert "x-api-key" not in entry["signed_headers"]
    assert {"host", "x-amz-date", "x-amz-security-token"} <= set(entry["signed_headers"])
    assert entry["extra_headers"] == ["x-api-key", "x-tenant-id"]
    assert "secret-value" not in json.dumps(entry)
    assert sandbox.state.stats()["invoke_calls"] == 1


def test_concurrent_invocations(
    sandbox: SandboxServer, assume: Callable[..., Any], make_bedrock: Callable[..., Any]
) -> None:
    client = make_bedrock(assume(), max_pool_connections=32)

    def call(index: int) -> str:
        body = {**ANTHROPIC_BODY, "messages": [{"role": "user", "content": f"call {index}"}]}
        return invoke_json(client, DEMO_MODEL_ID, body)[1]["content"][0]["text"]

    with ThreadPoolExecutor(max_workers=32) as pool:
        texts = list(pool.map(call, range(128)))
    assert texts == [f"{REPLY}call {i}" for i in range(128)]
    assert sandbox.state.stats()["invoke_calls"] == 128


def test_model_arn_with_unencoded_slash_in_the_path(
    sandbox: SandboxServer, assume: Callable[..., Any]
) -> None:
    body = json.dumps(ANTHROPIC_BODY).encode()
    path = f"/model/{PROFILE_ARN}/invoke"
    request = signed_request(sandbox.url, assume(session_name="raw-path"), path, body)
    response = send_raw(sandbox.url, "POST", path, body, dict(request.headers.items()))
    assert response.status == 200, response.body
    assert sandbox.state.requests()[-1]["model_id"] == PROFILE_ARN
