"""Plain helpers shared by the sandbox tests (fixtures live in conftest.py)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REGION = "us-east-1"
ANTHROPIC_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "Hi there sandbox"}],
}


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def client_config(read_timeout: float = 5, max_attempts: int = 1, **extra: Any) -> Config:
    return Config(
        signature_version="v4",
        connect_timeout=2,
        read_timeout=read_timeout,
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
        **extra,
    )


def invoke_json(client: Any, model_id: str, body: Any = None) -> tuple[dict[str, Any], Any]:
    """InvokeModel and return (response metadata headers, parsed JSON body)."""
    payload = body if isinstance(body, str | bytes) else json.dumps(body or ANTHROPIC_BODY)
    response = client.invoke_model(modelId=model_id, body=payload)
    return response["ResponseMetadata"]["HTTPHeaders"], json.loads(response["body"].read())


def signed_request(
    url: str,
    creds: dict[str, Any],
    path: str,
    body: bytes,
    *,
    service: str = "bedrock",
    headers: dict[str, str] | None = None,
) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=url + path,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    credentials = Credentials(
        creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken")
    )
    SigV4Auth(credentials, service, REGION).add_auth(request)
    return request


def invoke_path(model_id: str, operation: str = "invoke") -> str:
    """The path of a model operation: invoke, converse, converse-stream..."""
    return f"/model/{quote(model_id, safe='-_.~')}/{operation}"


def send_raw(
    url: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = 5,
) -> RawResponse:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def control(url: str, method: str, path: str, data: Any = None) -> RawResponse:
    body = b"" if data is None else json.dumps(data).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    return send_raw(url, method, "/_sandbox/" + path, body, headers)


def chunks_of(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON chunks of an InvokeModelWithResponseStream answer, read to the end."""
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


def stream_text(events: list[dict[str, Any]]) -> str:
    """The text of ConverseStream events joined."""
    return "".join(
        e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e
    )


def error_of(caught: Any) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a ClientError caught by pytest.raises."""
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )
