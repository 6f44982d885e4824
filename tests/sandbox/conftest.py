"""One sandbox server for the whole session; each test starts from a reset state.

Clients are real boto3 clients talking HTTP to the sandbox, with retries off (max_attempts=1)
so every fault is visible, and with the AWS environment scrubbed so a developer's profile,
proxy or Bedrock API key cannot leak into the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from sandbox import (
    DEMO_EXTERNAL_ID,
    DEMO_ROLE_ARN,
    PLATFORM_ACCESS_KEY_ID,
    PLATFORM_SECRET_ACCESS_KEY,
)
from sandbox.server import SandboxServer

from .helpers import REGION, client_config

_AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_STS_REGIONAL_ENDPOINTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(port=0).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def sandbox(
    sandbox_server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SandboxServer]:
    for name in _AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    sandbox_server.state.reset()
    yield sandbox_server
    sandbox_server.state.reset()


@pytest.fixture(scope="session")
def boto_session() -> boto3.session.Session:
    # One session: its loader caches the service models, so new clients are cheap.
    return boto3.session.Session()


@pytest.fixture
def make_sts(sandbox: SandboxServer, boto_session: boto3.session.Session) -> Callable[..., Any]:
    def make(
        access_key: str = PLATFORM_ACCESS_KEY_ID,
        secret_key: str = PLATFORM_SECRET_ACCESS_KEY,
        token: str | None = None,
        **config: Any,
    ) -> Any:
        return boto_session.client(
            "sts",
            endpoint_url=sandbox.url,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=token,
            config=client_config(**config),
        )

    return make


@pytest.fixture
def assume(make_sts: Callable[..., Any]) -> Callable[..., dict[str, Any]]:
    """AssumeRole as the platform; returns the Credentials dict."""

    def do(
        role_arn: str = DEMO_ROLE_ARN,
        external_id: str | None = DEMO_EXTERNAL_ID,
        session_name: str = "console-test",
        **params: Any,
    ) -> dict[str, Any]:
        if external_id is not None:
            params["ExternalId"] = external_id
        result = make_sts().assume_role(RoleArn=role_arn, RoleSessionName=session_name, **params)
        return result["Credentials"]

    return do


@pytest.fixture
def make_bedrock(sandbox: SandboxServer, boto_session: boto3.session.Session) -> Callable[..., Any]:
    def make(creds: dict[str, Any], region: str = REGION, **config: Any) -> Any:
        return boto_session.client(
            "bedrock-runtime",
            endpoint_url=sandbox.url,
            region_name=region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken"),
            config=client_config(**config),
        )

    return make


@pytest.fixture
def bedrock(assume: Callable[..., dict[str, Any]], make_bedrock: Callable[..., Any]) -> Any:
    """A bedrock-runtime client signed with fresh demo-role credentials."""
    return make_bedrock(assume())
