"""The /_sandbox/ control API over HTTP, and the command-line entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox import DEMO_EXTERNAL_ID, DEMO_MODEL_ID, DEMO_ROLE_ARN
from sandbox.server import SandboxServer

from .helpers import control, invoke_json, send_raw

ROLE = "arn:aws:iam::444455556666:role/ControlledRole"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_roles_put_get_delete(
    sandbox: SandboxServer, assume: Callable[..., dict[str, Any]]
) -> None:
    spec = {"role_arn": ROLE, "external_id": "ext-0001", "models": ["amazon.*"]}
    put = control(sandbox.url, "PUT", "roles", spec)
    assert put.status == 200
    spec["actions"] = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    assert put.json() == {"role": spec}
    assert spec in control(sandbox.url, "GET", "roles").json()["roles"]
    assert assume(ROLE, "ext-0001")["AccessKeyId"].startswith("ASIA")

    assert control(sandbox.url, "DELETE", "roles", {"role_arn": ROLE}).json() == {"deleted": True}
    with pytest.raises(ClientError) as caught:
        assume(ROLE, "ext-0001")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


def test_role_without_external_id_and_default_models(sandbox: SandboxServer) -> None:
    put = control(sandbox.url, "PUT", "roles", {"role_arn": ROLE, "external_id": None})
    assert put.json()["role"] == {
        "role_arn": ROLE,
        "external_id": None,
        "models": ["*"],
        "actions": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
    }


@pytest.mark.parametrize(
    "spec",
    [
        {"external_id": "x"},
        {"role_arn": "not-an-arn"},
        {"role_arn": ROLE, "models": "amazon.*"},
        {"role_arn": ROLE, "external_id": 5},
        {"role_arn": ROLE, "actions": "bedrock:InvokeModel"},
        {"role_arn": ROLE, "actions": [""]},
    ],
)
def test_bad_role_specs(sandbox: SandboxServer, spec: dict[str, Any]) -> None:
    response = control(sandbox.url, "PUT", "roles", spec)
    assert response.status == 400
    assert response.json()["error"]


def test_demo_role_cannot_be_deleted(sandbox: SandboxServer) -> None:
    response = control(sandbox.url, "DELETE", "roles", {"role_arn": DEMO_ROLE_ARN})
    assert response.status == 400


def test_faults_put_list_delete(sandbox: SandboxServer, bedrock: Any) -> None:
    spec = {"target": "invoke", "match": "*", "mode": "error", "code": "ModelNotReadyException",
            "status": 429, "message": "warming up", "times": 1}  # fmt: skip
    put = control(sandbox.url, "PUT", "faults", spec)
    assert put.status == 200
    fault = put.json()["fault"]
    assert {k: fault[k] for k in spec} == spec
    assert control(sandbox.url, "GET", "faults").json()["faults"] == [fault]
    with pytest.raises(ClientError) as caught:
        invoke_json(bedrock, DEMO_MODEL_ID)
    assert caught.value.response["Error"]["Code"] == "ModelNotReadyException"

    control(sandbox.url, "PUT", "faults", {"target": "invoke", "mode": "throttle", "times": 5})
    assert control(sandbox.url, "DELETE", "faults").json() == {"faults": []}
    invoke_json(bedrock, DEMO_MODEL_ID)


@pytest.mark.parametrize(
    "spec",
    [
        {"target": "s3", "mode": "error"},
        {"target": "invoke", "mode": "explode"},
        {"target": "invoke"},
        {"target": "invoke", "mode": "delay", "ms": "100"},
        {"target": "invoke", "mode": "delay", "ms": -1},
        {"target": "invoke", "mode": "hang", "secs": 1},
        {"target": "invoke", "mode": "stream_error", "code": "AccessDeniedException"},
        {"target": "invoke", "mode": "stream_cut", "after": -1},
        {"target": "invoke", "mode": "stream_cut", "after": 1.5},
        {"target": "invoke", "mode": "throttle", "operation": 3},
        {"target": "sts", "mode": "slow_first_byte", "ms": 100},
        {"target": "sts", "mode": "error", "operation": "Converse"},
    ],
)
def test_bad_fault_specs(sandbox: SandboxServer, spec: dict[str, Any]) -> None:
    response = control(sandbox.url, "PUT", "faults", spec)
    assert response.status == 400
    assert response.json()["error"]


def test_config_stats_requests_reset(
    sandbox: SandboxServer, bedrock: Any, make_sts: Callable[..., Any]
) -> None:
    assert control(sandbox.url, "PUT", "config", {"invoke_delay_ms": 5}).json() == {
        "invoke_delay_ms": 5,
        "sts_delay_ms": 0,
        "stream_interval_ms": 0,
    }
    assert control(sandbox.url, "PUT", "config", {"stream_interval_ms": 20}).json() == {
        "invoke_delay_ms": 5,
        "sts_delay_ms": 0,
        "stream_interval_ms": 20,
    }
    assert control(sandbox.url, "PUT", "config", {"bogus": 1}).status == 400
    assert control(sandbox.url, "PUT", "config", {"stream_interval_ms": -5}).status == 400
    make_sts().get_caller_identity()
    invoke_json(bedrock, DEMO_MODEL_ID)
    control(sandbox.url, "PUT", "roles", {"role_arn": ROLE, "external_id": None})

    stats = control(sandbox.url, "GET", "stats").json()
    assert stats == {
        "assume_role_calls": 1,
        "assume_role_calls_by_role": {DEMO_ROLE_ARN: 1},
        "invoke_calls": 1,
        "calls_by_operation": {"InvokeModel": 1},
        "get_caller_identity_calls": 1,
    }
    (entry,) = control(sandbox.url, "GET", "requests").json()
    assert entry["model_id"] == DEMO_MODEL_ID
    assert entry["operation"] == "InvokeModel"
    assert entry["session_name"] == "console-test"

    assert control(sandbox.url, "POST", "reset").json() == {"reset": True}
    assert control(sandbox.url, "GET", "stats").json()["invoke_calls"] == 0
    assert control(sandbox.url, "GET", "requests").json() == []
    assert control(sandbox.url, "GET", "config").json()["invoke_delay_ms"] == 0
    assert control(sandbox.url, "GET", "config").json()["stream_interval_ms"] == 0
    (role,) = control(sandbox.url, "GET", "roles").json()["roles"]
    assert role["role_arn"] == DEMO_ROLE_ARN and role["external_id"] == DEMO_EXTERNAL_ID
    assert role["models"] == ["*"]
    invoke_json(bedrock, DEMO_MODEL_ID)  # issued credentials survive a reset


def test_expire_credentials_endpoint(sandbox: SandboxServer, bedrock: Any) -> None:
    assert control(sandbox.url, "POST", "credentials/expire", {}).json()["expired"] >= 1
    with pytest.raises(ClientError) as caught:
        invoke_json(bedrock, DEMO_MODEL_ID)
    assert caught.value.response["Error"]["Code"] == "ExpiredTokenException"


def test_unknown_paths_are_404(sandbox: SandboxServer) -> None:
    assert control(sandbox.url, "GET", "nope").status == 404
    assert control(sandbox.url, "POST", "stats").status == 404
    assert send_raw(sandbox.url, "GET", "/elsewhere").status == 404
    unknown = send_raw(sandbox.url, "POST", "/model/x.y/count-tokens", b"{}")
    assert unknown.status == 404
    assert unknown.headers["x-amzn-errortype"] == "UnknownOperationException"
    assert "ConverseStream (POST /model/{modelId}/converse-stream)" in unknown.json()["message"]
    get = send_raw(sandbox.url, "GET", "/model/x.y/converse", b"")
    assert get.status == 404


def test_invalid_json_body(sandbox: SandboxServer) -> None:
    response = send_raw(sandbox.url, "PUT", "/_sandbox/roles", b"{nope")
    assert response.status == 400
    assert "not valid JSON" in response.json()["error"]


def test_keep_alive_connection_serves_many_requests(sandbox: SandboxServer) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", int(sandbox.url.rsplit(":", 1)[1]), timeout=2)
    try:
        for _ in range(3):
            conn.request("GET", "/_sandbox/stats")
            response = conn.getresponse()
            assert json.loads(response.read())["invoke_calls"] == 0
            assert response.getheader("Content-Length")
    finally:
        conn.close()


def test_command_line_entry_point() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            "0",
            "--invoke-delay-ms",
            "7",
            "--stream-interval-ms",
            "25",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("sandbox listening on http://127.0.0.1:")
        url = line.removeprefix("sandbox listening on ")
        assert control(url, "GET", "config").json() == {
            "invoke_delay_ms": 7,
            "sts_delay_ms": 0,
            "stream_interval_ms": 25,
        }
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=5)
    assert process.returncode == 0
    assert stderr == ""  # quiet unless --verbose


def test_stream_faults_over_http(sandbox: SandboxServer) -> None:
    specs = [
        {
            "target": "invoke",
            "mode": "stream_error",
            "after": 2,
            "code": "ThrottlingException",
            "message": "slow down",
            "operation": "ConverseStream",
            "times": 1,
        },
        {"target": "invoke", "mode": "stream_cut", "after": 5, "match": "amazon.*"},
        {"target": "invoke", "mode": "slow_first_byte", "ms": 300, "interval_ms": 20},
        {"target": "invoke", "mode": "delay", "match": "meta.*", "interval_ms": 50},
    ]
    faults = [control(sandbox.url, "PUT", "faults", spec).json()["fault"] for spec in specs]
    assert {k: faults[0][k] for k in ("mode", "after", "code", "message", "operation")} == {
        "mode": "stream_error",
        "after": 2,
        "code": "throttlingException",  # the event-stream name of the exception
        "message": "slow down",
        "operation": "ConverseStream",
    }
    assert (faults[1]["after"], faults[1]["match"], faults[1]["operation"]) == (5, "amazon.*", "*")
    assert (faults[2]["ms"], faults[2]["interval_ms"]) == (300, 20)
    assert (faults[3]["ms"], faults[3]["interval_ms"]) == (0, 50)
    assert control(sandbox.url, "GET", "faults").json()["faults"] == faults


def test_a_role_with_chosen_actions_over_http(
    sandbox: SandboxServer, assume: Callable[..., dict[str, Any]], make_bedrock: Callable[..., Any]
) -> None:
    spec = {"role_arn": ROLE, "external_id": None, "actions": ["bedrock:InvokeModel"]}
    assert control(sandbox.url, "PUT", "roles", spec).json()["role"]["actions"] == [
        "bedrock:InvokeModel"
    ]
    client = make_bedrock(assume(ROLE, None))
    invoke_json(client, DEMO_MODEL_ID)
    messages = [{"role": "user", "content": [{"text": "Hi"}]}]
    with pytest.raises(ClientError) as caught:
        client.converse_stream(modelId=DEMO_MODEL_ID, messages=messages)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
