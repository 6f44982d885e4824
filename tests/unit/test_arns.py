"""Unit tests for bedrock.arns (no database, no Django)."""

from __future__ import annotations

import dataclasses

import pytest

from bedrock.arns import MODEL_KINDS, ModelRef, RoleArn, parse_model_id, parse_role_arn
from bedrock.values import InvalidValue
from tests.unit.helpers import ACCOUNT, ECHO_LIMIT, HAIKU, SONNET, assert_sentence, message

# ---------------------------------------------------------------------------------------------
# Role ARNs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "partition", "path", "name"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/BedrockConsoleAccess", "aws", "/", "BedrockConsoleAccess"),
        (f"arn:aws:iam::{ACCOUNT}:role/a/b/Name", "aws", "/a/b/", "Name"),
        (
            f"arn:aws:iam::{ACCOUNT}:role/service-role/x+=,.@_-y",
            "aws",
            "/service-role/",
            "x+=,.@_-y",
        ),
        (f"arn:aws-cn:iam::{ACCOUNT}:role/China", "aws-cn", "/", "China"),
        (f"arn:aws-us-gov:iam::{ACCOUNT}:role/Gov", "aws-us-gov", "/", "Gov"),
        (f"  arn:aws:iam::{ACCOUNT}:role/Padded \n", "aws", "/", "Padded"),
        (f"arn:aws:iam::{ACCOUNT}:role/" + "n" * 64, "aws", "/", "n" * 64),
        (f"arn:aws:iam::{ACCOUNT}:role/R", "aws", "/", "R"),
    ],
)
def test_parse_role_arn_accepts(value: str, partition: str, path: str, name: str) -> None:
    role = parse_role_arn(value)
    assert isinstance(role, RoleArn)
    assert (role.partition, role.account, role.path, role.name) == (partition, ACCOUNT, path, name)
    assert role.arn == value.strip()
    assert str(role) == role.arn
    with pytest.raises(dataclasses.FrozenInstanceError):
        role.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "Enter the role ARN"),
        ("   ", "Enter the role ARN"),
        ("BedrockConsoleAccess", "starts with arn:"),
        (f"arn:aws:iam::{ACCOUNT}", "not a complete role ARN"),
        (f"arn:aws-iso:iam::{ACCOUNT}:role/R", "partition must be aws, aws-cn or aws-us-gov"),
        (f"arn:AWS:iam::{ACCOUNT}:role/R", "partition must be"),
        (f"arn:aws:s3::{ACCOUNT}:role/R", "service iam"),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/R/session", "assumed-role session"),
        (f"arn:aws:iam:us-east-1:{ACCOUNT}:role/R", "IAM ARNs have no region"),
        ("arn:aws:iam::12345678901:role/R", "The account ID must be 12 digits (got 11)."),
        ("arn:aws:iam::1234567890123:role/R", "The account ID must be 12 digits (got 13)."),
        ("arn:aws:iam::1234-5678-9012:role/R", "without dashes or letters"),
        ("arn:aws:iam:::role/R", "account ID is missing"),
        (f"arn:aws:iam::{ACCOUNT}:user/alice", "names an IAM user, not a role"),
        (f"arn:aws:iam::{ACCOUNT}:group/admins", "names an IAM group, not a role"),
        (f"arn:aws:iam::{ACCOUNT}:policy/P", "names an IAM policy, not a role"),
        (f"arn:aws:iam::{ACCOUNT}:instance-profile/P", "instance profile, not a role"),
        (f"arn:aws:iam::{ACCOUNT}:root", "account root user, not a role"),
        (f"arn:aws:iam::{ACCOUNT}:widget/x", "not a role"),
        (f"arn:aws:iam::{ACCOUNT}:role", "role name is missing"),
        (f"arn:aws:iam::{ACCOUNT}:role/", "role name is missing"),
        (f"arn:aws:iam::{ACCOUNT}:role/path/", "role name is missing"),
        (f"arn:aws:iam::{ACCOUNT}:role//R", "empty segment"),
        (f"arn:aws:iam::{ACCOUNT}:role/a//R", "empty segment"),
        (f"arn:aws:iam::{ACCOUNT}:role/../R", "'..'"),
        (f"arn:aws:iam::{ACCOUNT}:role/a/../../R", "'..'"),
        (f"arn:aws:iam::{ACCOUNT}:role/R..", "'..'"),
        (f"arn:aws:iam::{ACCOUNT}:role/My Role", "spaces or line breaks"),
        (f"arn:aws:iam::{ACCOUNT}:role/R\tX", "spaces or line breaks"),
        (f"arn:aws:iam::{ACCOUNT}:role/R\nX", "spaces or line breaks"),
        (f"arn:aws:iam::{ACCOUNT}:role/R\x00", "control character"),
        (f"arn:aws:iam::{ACCOUNT}:role/R*", "may only contain"),
        (f"arn:aws:iam::{ACCOUNT}:role/R:x", "may only contain"),
        (f"arn:aws:iam::{ACCOUNT}:role/Réle", "may only contain"),
        (f"arn:aws:iam::{ACCOUNT}:role/p%2f/R", "may only contain"),
        (f"arn:aws:iam::{ACCOUNT}:role/" + "n" * 65, "1 to 64 characters (got 65)"),
        (f"arn:aws:iam::{ACCOUNT}:role/" + "p/" * 300 + "R", "path must be at most 512"),
        (f"arn:aws:iam::{ACCOUNT}:role/" + "n" * 2100, "too long"),
    ],
)
def test_parse_role_arn_rejects(value: str, expected: str) -> None:
    with pytest.raises(InvalidValue) as excinfo:
        parse_role_arn(value)
    text = message(excinfo)
    assert expected in text
    assert_sentence(text)
    assert len(text) < 300


def test_role_arn_message_does_not_echo_long_input() -> None:
    service = "x" * 500
    with pytest.raises(InvalidValue) as excinfo:
        parse_role_arn(f"arn:aws:{service}::{ACCOUNT}:role/R")
    assert "x" * ECHO_LIMIT not in message(excinfo)


def test_parse_role_arn_rejects_non_text() -> None:
    with pytest.raises(InvalidValue, match="must be text"):
        parse_role_arn(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="Enter the role ARN"):
        parse_role_arn(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Model ids and ARNs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_id",
    [
        HAIKU,
        "amazon.nova-lite-v1:0",
        "meta.llama3-8b-instruct-v1:0",
        "cohere.command-r-v1:0",
        "ai21.jamba-1-5-mini-v1:0",
        "mistral.mistral-7b-instruct-v0:2",
        "amazon.titan-text-express-v1",
        "amazon.titan-text-express-v1:0:8k",
        "anthropic.claude-3-haiku-20240307-v1:0:200k",
        "amazon.titan-embed-text-v2:0",
        "  " + HAIKU + "  ",
    ],
)
def test_base_model_ids(model_id: str) -> None:
    ref = parse_model_id(model_id)
    assert ref.kind == "base-model"
    assert ref.model_id == model_id.strip()
    assert ref.base_model_id == model_id.strip()
    assert ref.resource == model_id.strip()
    assert (ref.partition, ref.region, ref.account, ref.geo) == (None, None, None, None)
    assert not ref.is_arn
    assert not ref.is_profile


@pytest.mark.parametrize(
    ("model_id", "geo", "base"),
    [
        (f"us.{SONNET}", "us", SONNET),
        (f"eu.{HAIKU}", "eu", HAIKU),
        ("apac.amazon.nova-lite-v1:0", "apac", "amazon.nova-lite-v1:0"),
        (f"jp.{HAIKU}", "jp", HAIKU),
        (f"au.{HAIKU}", "au", HAIKU),
        (f"ca.{HAIKU}", "ca", HAIKU),
        (f"us-gov.{HAIKU}", "us-gov", HAIKU),
        (
            "global.anthropic.claude-sonnet-4-20250514-v1:0",
            "global",
            "anthropic.claude-sonnet-4-20250514-v1:0",
        ),
        ("us.meta.llama3-2-1b-instruct-v1:0", "us", "meta.llama3-2-1b-instruct-v1:0"),
    ],
)
def test_system_inference_profile_ids(model_id: str, geo: str, base: str) -> None:
    ref = parse_model_id(model_id)
    assert ref.kind == "system-inference-profile"
    assert ref.model_id == model_id
    assert ref.geo == geo
    assert ref.base_model_id == base
    assert ref.region is None and ref.partition is None and ref.account is None
    assert ref.is_profile


ARN_CASES: list[tuple[str, str, dict[str, object]]] = [
    (
        f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}",
        "foundation-model",
        {"region": "us-east-1", "account": None, "resource": HAIKU, "base_model_id": HAIKU},
    ),
    (
        "arn:aws-cn:bedrock:cn-north-1::foundation-model/amazon.titan-text-express-v1",
        "foundation-model",
        {"partition": "aws-cn", "region": "cn-north-1"},
    ),
    (
        f"arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/{HAIKU}",
        "foundation-model",
        {"partition": "aws-us-gov", "region": "us-gov-west-1"},
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{SONNET}",
        "inference-profile",
        {"account": ACCOUNT, "geo": "us", "base_model_id": SONNET, "resource": f"us.{SONNET}"},
    ),
    (
        f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/global.{HAIKU}",
        "inference-profile",
        {"geo": "global", "base_model_id": HAIKU, "region": "eu-west-1"},
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abcdef123456",
        "application-inference-profile",
        {"resource": "abcdef123456", "base_model_id": None, "geo": None},
    ),
    (
        f"arn:aws:bedrock:us-west-2:{ACCOUNT}:provisioned-model/a1b2c3d4e5f6",
        "provisioned-model",
        {"resource": "a1b2c3d4e5f6", "base_model_id": None, "region": "us-west-2"},
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:imported-model/zyxwvu987654",
        "imported-model",
        {"resource": "zyxwvu987654", "base_model_id": None},
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/amazon.titan-text-express-v1:0:8k/abcdef123456",
        "custom-model",
        {
            "base_model_id": "amazon.titan-text-express-v1:0:8k",
            "resource": "amazon.titan-text-express-v1:0:8k/abcdef123456",
        },
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/imported/abcdef123456",
        "custom-model",
        {"base_model_id": None},
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/abcdef123456",
        "custom-model-deployment",
        {"base_model_id": None, "resource": "abcdef123456"},
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:prompt-router/abcdef123456",
        "prompt-router",
        {"base_model_id": None},
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:default-prompt-router/anthropic.claude:1",
        "default-prompt-router",
        {"resource": "anthropic.claude:1", "base_model_id": None},
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:prompt/PROMPT1234",
        "prompt",
        {"resource": "PROMPT1234", "base_model_id": None},
    ),
    (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:prompt/Ab3De6Gh9J:12",
        "prompt",
        {"resource": "Ab3De6Gh9J:12"},
    ),
]


@pytest.mark.parametrize(("arn", "kind", "fields"), ARN_CASES)
def test_model_arns(arn: str, kind: str, fields: dict[str, object]) -> None:
    ref = parse_model_id(arn)
    assert isinstance(ref, ModelRef)
    assert ref.kind == kind
    assert ref.kind in MODEL_KINDS
    assert ref.model_id == arn
    assert ref.is_arn
    for name, value in fields.items():
        assert getattr(ref, name) == value, name
    if kind != "foundation-model":
        assert ref.account == ACCOUNT
    if "partition" not in fields:
        assert ref.partition == "aws"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "Enter the model ID or ARN"),
        ("claude-3-haiku", "should look like provider.model"),
        ("anthropic.", "should look like provider.model"),
        (".claude", "should look like provider.model"),
        ("Anthropic.claude", "should look like provider.model"),
        ("anthropic.claude-", "should look like provider.model"),
        ("provisioned123", "should look like provider.model"),
        ("../../etc/passwd", "'..'"),
        ("anthropic..claude", "'..'"),
        ("anthropic.claude/../x", "'..'"),
        ("anthropic/claude", "has no '/'"),
        ("anthropic.claude%3A0", "'%'"),
        ("anthropic.claude?x=1", "'?' or '#'"),
        ("anthropic.claude#frag", "'?' or '#'"),
        ("anthropic.claude v1", "spaces or line breaks"),
        ("anthropic.claude\tv1", "spaces or line breaks"),
        ("anthropic.claude\x00", "control character"),
        ("anthropic.claude\x1b[31m", "control character"),
        ("anthropic.claude*", "may only contain"),
        ("anthropic.cláude", "may only contain"),
        ("anthropic.claude;rm", "may only contain"),
        ("us.claude", "geography followed by a model ID"),
        ("us.", "geography followed by a model ID"),
        ("a." + "b" * 2050, "too long"),
        # ARNs
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}", "not a complete Bedrock ARN"),
        (f"arn:aws-iso:bedrock:us-east-1::foundation-model/{HAIKU}", "partition must be"),
        (f"arn:aws:s3:us-east-1::foundation-model/{HAIKU}", "service must be bedrock"),
        (f"arn:aws:iam::{ACCOUNT}:role/R", "This is an IAM ARN"),
        (f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/x", "service must be bedrock"),
        (f"arn:aws:bedrock:::foundation-model/{HAIKU}", "region is missing"),
        (f"arn:aws:bedrock:US-EAST-1::foundation-model/{HAIKU}", "region must look like"),
        (f"arn:aws:bedrock:useast1::foundation-model/{HAIKU}", "region must look like"),
        (f"arn:aws:bedrock:cn-north-1::foundation-model/{HAIKU}", "arn:aws-cn:bedrock"),
        (f"arn:aws-cn:bedrock:us-east-1::foundation-model/{HAIKU}", "arn:aws:bedrock"),
        (f"arn:aws:bedrock:us-gov-west-1::foundation-model/{HAIKU}", "arn:aws-us-gov:bedrock"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:foundation-model/{HAIKU}", "empty account field"),
        (f"arn:aws:bedrock:us-east-1::inference-profile/us.{HAIKU}", "account ID is missing"),
        ("arn:aws:bedrock:us-east-1:12345:provisioned-model/abcdef123456", "(got 5)"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:agent/abcdef123456", "Unknown Bedrock resource"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:guardrail/abcdef123456", "Unknown Bedrock resource"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model", "Unknown Bedrock resource"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/", "ID is missing"),
        (f"arn:aws:bedrock:us-east-1::foundation-model/us.{HAIKU}", "cross-region inference"),
        ("arn:aws:bedrock:us-east-1::foundation-model/a/b", "no further '/'"),
        ("arn:aws:bedrock:us-east-1::foundation-model/claude", "provider.model"),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/{HAIKU}",
            "starts with a geography",
        ),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.x", "geography followed"),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/ABCDEF123456",
            "12 lower-case letters and digits",
        ),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc",
            "12 lower-case letters and digits",
        ),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abcdef1234567",
            "12 lower-case letters and digits",
        ),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abc/def123456789",
            "no further '/'",
        ),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:imported-model/abc-def", "12 lower-case"),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/xyz",
            "12 lower-case",
        ),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/abcdef123456", "custom-model/BASE"),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/{HAIKU}/abcdef123456/x",
            "custom-model/BASE",
        ),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/x/abcdef123456", "base model"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/{HAIKU}/ABC", "custom model ID"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:prompt-router/-bad", "prompt router ID"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:prompt-router/a_b", "prompt router ID"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:prompt/short", "10 letters"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:prompt/ABCDEFGHIJ:v1", "10 letters"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:prompt/ABCDEFGHIJ:123456", "10 letters"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:prompt/ABCDEFGHIJK", "10 letters"),
        ("arn:aws:bedrock:us-east-1::foundation-model/../../etc/passwd", "'..'"),
        (f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}%2F..", "'%'"),
        (f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}?x", "'?' or '#'"),
        (f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU} x", "spaces"),
        ("arn:aws:bedrock:us-east-1::foundation-model/" + "a." + "b" * 2100, "too long"),
    ],
)
def test_parse_model_id_rejects(value: str, expected: str) -> None:
    with pytest.raises(InvalidValue) as excinfo:
        parse_model_id(value)
    text = message(excinfo)
    assert expected in text
    assert_sentence(text)
    assert len(text) < 400


def test_model_id_trailing_newline_is_stripped() -> None:
    # Surrounding whitespace (including a pasted trailing newline) is removed first.
    ref = parse_model_id(f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}\r\n")
    assert ref.model_id.endswith(HAIKU)


def test_model_id_message_does_not_echo_long_input() -> None:
    with pytest.raises(InvalidValue) as excinfo:
        parse_model_id("claude" + "x" * 500)
    assert "x" * ECHO_LIMIT not in message(excinfo)
    with pytest.raises(InvalidValue) as excinfo:
        parse_model_id(f"arn:aws:bedrock:us-east-1:{ACCOUNT}:" + "t" * 300 + "/x")
    assert "t" * ECHO_LIMIT not in message(excinfo)


def test_model_id_is_frozen() -> None:
    ref = parse_model_id(HAIKU)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.model_id = "x"  # type: ignore[misc]
