"""Injected faults, seen through boto3 clients with short timeouts and no retries."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from sandbox import DEMO_EXTERNAL_ID, DEMO_MODEL_ID, DEMO_ROLE_ARN
from sandbox.server import SandboxServer

from .helpers import invoke_json

NOVA = "amazon.nova-lite-v1:0"


@pytest.fixture
def creds(assume: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return assume()


@pytest.fixture
def quick(make_bedrock: Callable[..., Any], creds: dict[str, Any]) -> Any:
    """A client that gives up after 0.4 s without an answer."""
    return make_bedrock(creds, read_timeout=0.4)


def _code(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_throttle_then_success(sandbox: SandboxServer, quick: Any) -> None:
    sandbox.state.add_fault("invoke", "throttle", times=2)
    for _ in range(2):
        with pytest.raises(ClientError) as caught:
            invoke_json(quick, DEMO_MODEL_ID)
        assert _code(caught) == ("ThrottlingException", 429)
    _, answer = invoke_json(quick, DEMO_MODEL_ID)
    assert answer["type"] == "message"
    assert sandbox.state.faults() == []


def test_botocore_retries_through_throttling(
    sandbox: SandboxServer, make_bedrock: Callable[..., Any], creds: dict[str, Any]
) -> None:
    sandbox.state.add_fault("invoke", "throttle", times=1)
    client = make_bedrock(creds, max_attempts=3)
    response = client.invoke_model(modelId=DEMO_MODEL_ID, body=json.dumps({"message": "hi"}))
    assert response["ResponseMetadata"]["RetryAttempts"] == 1


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ModelTimeoutException", 408),
        ("ServiceUnavailableException", 503),
        ("ResourceNotFoundException", 404),
        ("ModelErrorException", 424),
        ("ServiceQuotaExceededException", 400),
    ],
)
def test_error_fault(sandbox: SandboxServer, quick: Any, code: str, status: int) -> None:
    sandbox.state.add_fault("invoke", "error", code=code, status=status, message="boom", times=1)
    with pytest.raises(ClientError) as caught:
        invoke_json(quick, DEMO_MODEL_ID)
    assert _code(caught) == (code, status)
    assert caught.value.response["Error"]["Message"] == "boom"
    invoke_json(quick, DEMO_MODEL_ID)


def test_error_fault_defaults_to_internal_server_error(sandbox: SandboxServer, quick: Any) -> None:
    sandbox.state.add_fault("invoke", "error")
    with pytest.raises(ClientError) as caught:
        invoke_json(quick, DEMO_MODEL_ID)
    assert _code(caught) == ("InternalServerException", 500)
    assert sandbox.state.requests()[-1]["error_code"] == "InternalServerException"


def test_faults_match_the_model_and_the_newest_wins(sandbox: SandboxServer, quick: Any) -> None:
    sandbox.state.add_fault("invoke", "error", match="amazon.*", code="ModelErrorException")
    sandbox.state.add_fault("invoke", "throttle", match="amazon.nova-*", times=1)
    invoke_json(quick, DEMO_MODEL_ID)
    with pytest.raises(ClientError) as caught:
        invoke_json(quick, NOVA)
    assert _code(caught)[0] == "ThrottlingException"
    with pytest.raises(ClientError) as caught:
        invoke_json(quick, NOVA)
    assert _code(caught)[0] == "ModelErrorException"


def test_delay(sandbox: SandboxServer, quick: Any) -> None:
    sandbox.state.add_fault("invoke", "delay", ms=250)
    started = time.perf_counter()
    headers, _ = invoke_json(quick, DEMO_MODEL_ID)
    assert time.perf_counter() - started >= 0.25
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 250
    sandbox.state.add_fault("invoke", "delay", ms=1000)
    with pytest.raises(ReadTimeoutError):
        invoke_json(quick, DEMO_MODEL_ID)


def test_global_invoke_delay(sandbox: SandboxServer, quick: Any) -> None:
    sandbox.state.set_config(invoke_delay_ms=150)
    started = time.perf_counter()
    invoke_json(quick, DEMO_MODEL_ID)
    assert time.perf_counter() - started >= 0.15


def test_hang_times_out_the_client(sandbox: SandboxServer, quick: Any) -> None:
    sandbox.state.add_fault("invoke", "hang", seconds=5)
    started = time.perf_counter()
    with pytest.raises(ReadTimeoutError):
        invoke_json(quick, DEMO_MODEL_ID)
    assert time.perf_counter() - started < 2


def test_hang_ends_by_closing_the_connection(
    sandbox: SandboxServer, make_bedrock: Callable[..., Any], creds: dict[str, Any]
) -> None:
    sandbox.state.add_fault("invoke", "hang", seconds=0.3)
    with pytest.raises(ConnectionClosedError):
        invoke_json(make_bedrock(creds, read_timeout=3), DEMO_MODEL_ID)


def test_close(sandbox: SandboxServer, quick: Any) -> None:
    sandbox.state.add_fault("invoke", "close", times=1)
    with pytest.raises(ConnectionClosedError):
        invoke_json(quick, DEMO_MODEL_ID)
    invoke_json(quick, DEMO_MODEL_ID)


def test_drip_stalls_the_body(sandbox: SandboxServer, quick: Any) -> None:
    sandbox.state.add_fault("invoke", "drip", interval_ms=1000)
    response = quick.invoke_model(modelId=DEMO_MODEL_ID, body=json.dumps({"message": "hi"}))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ReadTimeoutError):
        response["body"].read()


def test_fast_drip_delivers_a_valid_body(sandbox: SandboxServer, quick: Any) -> None:
    sandbox.state.add_fault("invoke", "drip", interval_ms=1)
    _, answer = invoke_json(quick, DEMO_MODEL_ID)
    assert answer["content"][0]["text"].endswith("Hi there sandbox")


@pytest.mark.parametrize(
    ("mode", "check"),
    [
        ("non_json", lambda body: body.startswith(b"<!DOCTYPE html>")),
        ("empty_object", lambda body: body == b"{}"),
    ],
)
def test_bad_success_bodies(
    sandbox: SandboxServer, quick: Any, mode: str, check: Callable[[bytes], bool]
) -> None:
    sandbox.state.add_fault("invoke", mode)
    response = quick.invoke_model(modelId=DEMO_MODEL_ID, body=b"{}")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert check(response["body"].read())


def test_huge_body_is_streamed(sandbox: SandboxServer, quick: Any) -> None:
    sandbox.state.add_fault("invoke", "huge", mb=3)
    response = quick.invoke_model(modelId=DEMO_MODEL_ID, body=b"{}")
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-length"] == str(3 * 1024 * 1024)
    body = response["body"].read()
    assert len(body) == 3 * 1024 * 1024
    assert json.loads(body)["type"] == "message"


def test_expired_once_per_issued_credential(
    sandbox: SandboxServer,
    assume: Callable[..., dict[str, Any]],
    make_bedrock: Callable[..., Any],
    quick: Any,
) -> None:
    sandbox.state.add_fault("invoke", "expired_once")
    with pytest.raises(ClientError) as caught:
        invoke_json(quick, DEMO_MODEL_ID)
    assert _code(caught) == ("ExpiredTokenException", 403)
    invoke_json(quick, DEMO_MODEL_ID)
    fresh = make_bedrock(assume(session_name="refreshed"))
    with pytest.raises(ClientError):
        invoke_json(fresh, DEMO_MODEL_ID)
    invoke_json(fresh, DEMO_MODEL_ID)


def test_expired_once_limited_by_times(
    sandbox: SandboxServer,
    assume: Callable[..., dict[str, Any]],
    make_bedrock: Callable[..., Any],
    quick: Any,
) -> None:
    sandbox.state.add_fault("invoke", "expired_once", times=1)
    with pytest.raises(ClientError):
        invoke_json(quick, DEMO_MODEL_ID)
    invoke_json(make_bedrock(assume(session_name="refreshed")), DEMO_MODEL_ID)


# -- STS -------------------------------------------------------------------------------------


def _assume_role(client: Any, role_arn: str = DEMO_ROLE_ARN) -> dict[str, Any]:
    return client.assume_role(
        RoleArn=role_arn, RoleSessionName="faulty", ExternalId=DEMO_EXTERNAL_ID
    )


def test_sts_throttle_then_success(sandbox: SandboxServer, make_sts: Callable[..., Any]) -> None:
    sandbox.state.add_fault("sts", "throttle", match=DEMO_ROLE_ARN)
    client = make_sts()
    client.get_caller_identity()  # GetCallerIdentity names no role: the fault does not match
    with pytest.raises(ClientError) as caught:
        _assume_role(client)
    assert _code(caught) == ("Throttling", 400)
    assert caught.value.response["Error"]["Message"] == "Rate exceeded"
    _assume_role(client)
    assert sandbox.state.stats()["assume_role_calls_by_role"] == {DEMO_ROLE_ARN: 2}


def test_sts_error_fault(sandbox: SandboxServer, make_sts: Callable[..., Any]) -> None:
    sandbox.state.add_fault("sts", "error", code="RegionDisabledException", status=403)
    with pytest.raises(ClientError) as caught:
        _assume_role(make_sts())
    assert _code(caught) == ("RegionDisabledException", 403)
    sandbox.state.clear_faults()
    sandbox.state.add_fault("sts", "error")
    with pytest.raises(ClientError) as caught:
        make_sts().get_caller_identity()
    assert _code(caught) == ("InternalFailure", 500)


def test_sts_hang_and_close(sandbox: SandboxServer, make_sts: Callable[..., Any]) -> None:
    client = make_sts(read_timeout=0.3)
    sandbox.state.add_fault("sts", "hang", seconds=5, times=1)
    with pytest.raises(ReadTimeoutError):
        _assume_role(client)
    sandbox.state.add_fault("sts", "close", times=1)
    with pytest.raises(ConnectionClosedError):
        _assume_role(client)
    assert _assume_role(client)["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_sts_delay_and_drip(sandbox: SandboxServer, make_sts: Callable[..., Any]) -> None:
    client = make_sts(read_timeout=0.3)
    sandbox.state.set_config(sts_delay_ms=600)
    with pytest.raises(ReadTimeoutError):
        client.get_caller_identity()
    sandbox.state.set_config(sts_delay_ms=0)
    sandbox.state.add_fault("sts", "drip", interval_ms=1)
    assert client.get_caller_identity()["Account"] == "123456789012"
