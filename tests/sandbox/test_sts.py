"""STS over the query protocol, exercised with real boto3 clients."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import botocore.auth
import pytest
from botocore.exceptions import ClientError

from sandbox import (
    DEMO_EXTERNAL_ID,
    DEMO_ROLE_ARN,
    PLATFORM_ACCESS_KEY_ID,
    PLATFORM_ACCOUNT,
    PLATFORM_ARN,
)
from sandbox.server import SandboxServer

from .helpers import error_of, send_raw

OTHER_ROLE = "arn:aws:iam::444455556666:role/team/ConsoleInvoke"


def test_get_caller_identity_as_the_platform(make_sts: Callable[..., Any]) -> None:
    identity = make_sts().get_caller_identity()
    assert identity["Arn"] == PLATFORM_ARN
    assert identity["Account"] == PLATFORM_ACCOUNT
    assert identity["UserId"].startswith("AIDA")
    assert identity["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_assume_role_returns_temporary_credentials(
    make_sts: Callable[..., Any], sandbox: SandboxServer
) -> None:
    before = dt.datetime.now(dt.UTC)
    result = make_sts().assume_role(
        RoleArn=DEMO_ROLE_ARN,
        RoleSessionName="tenant-42",
        ExternalId=DEMO_EXTERNAL_ID,
        DurationSeconds=900,
        SourceIdentity="alice@example.com",
    )
    creds = result["Credentials"]
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", creds["AccessKeyId"])
    assert creds["SecretAccessKey"] and creds["SessionToken"]
    lifetime = (creds["Expiration"] - before).total_seconds()
    assert 895 <= lifetime <= 905
    user = result["AssumedRoleUser"]
    assert user["Arn"] == "arn:aws:sts::111122223333:assumed-role/BedrockConsoleSandbox/tenant-42"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}:tenant-42", user["AssumedRoleId"])
    assert result["SourceIdentity"] == "alice@example.com"
    issued = sandbox.state.lookup_credentials(creds["AccessKeyId"])
    assert issued is not None
    assert (issued.role_arn, issued.session_name) == (DEMO_ROLE_ARN, "tenant-42")
    stats = sandbox.state.stats()
    assert stats["assume_role_calls"] == 1
    assert stats["assume_role_calls_by_role"] == {DEMO_ROLE_ARN: 1}


def test_temporary_credentials_identify_as_the_assumed_role(
    make_sts: Callable[..., Any], assume: Callable[..., dict[str, Any]]
) -> None:
    creds = assume(session_name="who-am-i")
    client = make_sts(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    identity = client.get_caller_identity()
    assert (
        identity["Arn"] == "arn:aws:sts::111122223333:assumed-role/BedrockConsoleSandbox/who-am-i"
    )
    assert identity["Account"] == "111122223333"


def test_role_chaining_with_issued_credentials(
    make_sts: Callable[..., Any], assume: Callable[..., dict[str, Any]], sandbox: SandboxServer
) -> None:
    sandbox.state.add_role(OTHER_ROLE, external_id=None)
    creds = assume()
    chained = make_sts(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    result = chained.assume_role(RoleArn=OTHER_ROLE, RoleSessionName="hop")
    assert result["AssumedRoleUser"]["Arn"].endswith(":assumed-role/ConsoleInvoke/hop")
    with pytest.raises(ClientError) as caught:
        chained.assume_role(RoleArn=OTHER_ROLE, RoleSessionName="hop", DurationSeconds=7200)
    code, message, status = error_of(caught)
    assert (code, status) == ("ValidationError", 400)
    assert "role chaining" in message


@pytest.mark.parametrize(
    ("role_arn", "external_id"),
    [
        (DEMO_ROLE_ARN, "not-the-right-one"),
        (DEMO_ROLE_ARN, None),
        ("arn:aws:iam::999988887777:role/Unknown", DEMO_EXTERNAL_ID),
    ],
    ids=["wrong-external-id", "missing-external-id", "unknown-role"],
)
def test_assume_role_denied(
    make_sts: Callable[..., Any], role_arn: str, external_id: str | None
) -> None:
    params = {"ExternalId": external_id} if external_id else {}
    with pytest.raises(ClientError) as caught:
        make_sts().assume_role(RoleArn=role_arn, RoleSessionName="s1", **params)
    code, message, status = error_of(caught)
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f"User: {PLATFORM_ARN} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )
    assert caught.value.response["ResponseMetadata"]["RequestId"]


def test_role_without_external_id_accepts_any(
    make_sts: Callable[..., Any], sandbox: SandboxServer
) -> None:
    sandbox.state.add_role(OTHER_ROLE, external_id=None)
    result = make_sts().assume_role(RoleArn=OTHER_ROLE, RoleSessionName="s1", ExternalId="whatever")
    assert result["Credentials"]["AccessKeyId"].startswith("ASIA")


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"RoleSessionName": "has space"}, "'roleSessionName' failed to satisfy constraint"),
        ({"RoleSessionName": "x"}, "length greater than or equal to 2"),
        ({"RoleSessionName": "s" * 65}, "length less than or equal to 64"),
        ({"DurationSeconds": 899}, "greater than or equal to 900"),
        ({"DurationSeconds": 43201}, "less than or equal to 43200"),
        ({"ExternalId": "bad id!"}, "'externalId' failed to satisfy constraint"),
        ({"ExternalId": "x"}, "'externalId' failed"),
    ],
)
def test_assume_role_validation(
    make_sts: Callable[..., Any], params: dict[str, Any], fragment: str
) -> None:
    request = {"RoleArn": DEMO_ROLE_ARN, "RoleSessionName": "ok", "ExternalId": DEMO_EXTERNAL_ID}
    request.update(params)
    # botocore validates lengths client-side; skip that so the server's checks are exercised.
    client = make_sts(parameter_validation=False)
    with pytest.raises(ClientError) as caught:
        client.assume_role(**request)
    code, message, status = error_of(caught)
    assert (code, status) == ("ValidationError", 400)
    assert fragment in message


def test_wrong_secret_is_signature_does_not_match(make_sts: Callable[..., Any]) -> None:
    with pytest.raises(ClientError) as caught:
        make_sts(secret_key="not-the-platform-secret").get_caller_identity()
    code, message, status = error_of(caught)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert "signature we calculated does not match" in message


def test_unknown_access_key_is_invalid_client_token_id(make_sts: Callable[..., Any]) -> None:
    with pytest.raises(ClientError) as caught:
        make_sts(access_key="AKIAUNKNOWNKEY000000").get_caller_identity()
    assert error_of(caught)[0::2] == ("InvalidClientTokenId", 403)


def test_token_with_long_term_key_is_invalid(make_sts: Callable[..., Any]) -> None:
    with pytest.raises(ClientError) as caught:
        make_sts(token="made-up").get_caller_identity()
    assert error_of(caught)[0] == "InvalidClientTokenId"


def test_issued_key_with_wrong_token_is_invalid(
    make_sts: Callable[..., Any], assume: Callable[..., dict[str, Any]]
) -> None:
    creds = assume()
    client = make_sts(creds["AccessKeyId"], creds["SecretAccessKey"], "forged-token")
    with pytest.raises(ClientError) as caught:
        client.get_caller_identity()
    assert error_of(caught)[0::2] == ("InvalidClientTokenId", 403)


def test_expired_temporary_credentials(
    make_sts: Callable[..., Any], assume: Callable[..., dict[str, Any]], sandbox: SandboxServer
) -> None:
    creds = assume()
    assert sandbox.state.expire_credentials(creds["AccessKeyId"]) == 1
    client = make_sts(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    with pytest.raises(ClientError) as caught:
        client.get_caller_identity()
    assert error_of(caught)[0::2] == ("ExpiredToken", 400)


def test_unsigned_request_and_unknown_action(sandbox: SandboxServer) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    unsigned = send_raw(sandbox.url, "POST", "/", body, form)
    assert unsigned.status == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in unsigned.body
    assert b"<Type>Sender</Type>" in unsigned.body
    assert unsigned.headers["x-amzn-requestid"]


def test_clock_skew_is_refused(
    make_sts: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    late = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: late)
    with pytest.raises(ClientError) as caught:
        make_sts().get_caller_identity()
    code, message, _ = error_of(caught)
    assert code == "SignatureDoesNotMatch"
    assert message.startswith("Signature expired")


def test_platform_key_constant_is_the_one_signing(make_sts: Callable[..., Any]) -> None:
    client = make_sts()
    assert client._request_signer._credentials.access_key == PLATFORM_ACCESS_KEY_ID
