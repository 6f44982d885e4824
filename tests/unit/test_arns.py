"""Unit tests for integrations.arns (no database, no Django)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from integrations.arns import (
    BEDROCK_REQUEST_HEADERS,
    GEOS,
    MODEL_KINDS,
    PARTITIONS,
    PLACEHOLDER_ACCOUNT_ID,
    PLACEHOLDER_PRINCIPAL,
    Endpoint,
    InvalidValue,
    ModelRef,
    RoleArn,
    check_endpoint,
    check_extra_origin,
    default_bedrock_endpoint,
    default_sts_endpoint,
    generate_external_id,
    make_session_name,
    normalise_sts_url,
    parse_model_id,
    parse_role_arn,
    partition_for_region,
    permission_policy,
    profile_regions,
    region_mismatch,
    trust_policy,
    validate_external_id,
    validate_header_name,
    validate_header_value,
    validate_region,
    validate_session_name,
)

ACCOUNT = "123456789012"
ECHO_LIMIT = 80


def message(excinfo: pytest.ExceptionInfo[InvalidValue]) -> str:
    return str(excinfo.value)


def assert_sentence(text: str) -> None:
    assert text[:1].isupper(), text
    assert text.rstrip().endswith((".", ")")), text


def test_invalid_value_is_a_value_error() -> None:
    assert issubclass(InvalidValue, ValueError)
    assert PARTITIONS == ("aws", "aws-cn", "aws-us-gov")


# ---------------------------------------------------------------------------------------------
# Regions and partitions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-west-3", "aws"),
        ("ap-southeast-4", "aws"),
        ("me-central-1", "aws"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-gov-east-1", "aws-us-gov"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
    ],
)
def test_regions(region: str, partition: str) -> None:
    assert partition_for_region(region) == partition
    assert validate_region(region) == region
    assert validate_region(region, partition) == region


@pytest.mark.parametrize(
    "region",
    ["", "us-east", "US-EAST-1", "us_east_1", "us-east-1a", "us-iso-east-1", "useast1", "a-b-1"],
)
def test_region_form_rejected(region: str) -> None:
    with pytest.raises(InvalidValue):
        validate_region(region)


def test_region_partition_mismatch() -> None:
    with pytest.raises(InvalidValue, match="belongs to the aws-cn partition, not aws"):
        validate_region("cn-north-1", "aws")
    with pytest.raises(InvalidValue, match="partition must be aws, aws-cn or aws-us-gov"):
        validate_region("us-east-1", "aws-iso")


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

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "anthropic.claude-3-5-sonnet-20240620-v1:0"


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


# ---------------------------------------------------------------------------------------------
# Endpoints
# ---------------------------------------------------------------------------------------------

EXTRA = ["http://127.0.0.1:4599", "https://bedrock.mock.internal", "http://[::1]:8080/"]


@pytest.mark.parametrize(
    ("url", "service", "expected"),
    [
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com",
            "bedrock-runtime",
            {"region": "us-east-1", "partition": "aws"},
        ),
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com/",
            "bedrock-runtime",
            {"url": "https://bedrock-runtime.us-east-1.amazonaws.com"},
        ),
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com:443",
            "bedrock-runtime",
            {"url": "https://bedrock-runtime.us-east-1.amazonaws.com"},
        ),
        (
            "HTTPS://Bedrock-Runtime.EU-WEST-1.AmazonAWS.com",
            "bedrock-runtime",
            {"url": "https://bedrock-runtime.eu-west-1.amazonaws.com", "region": "eu-west-1"},
        ),
        (
            "https://bedrock-runtime-fips.us-east-1.amazonaws.com",
            "bedrock-runtime",
            {"fips": True, "dualstack": False},
        ),
        (
            "https://bedrock-runtime.us-west-2.api.aws",
            "bedrock-runtime",
            {"dualstack": True, "region": "us-west-2", "fips": False},
        ),
        (
            "https://bedrock-runtime-fips.us-east-1.api.aws",
            "bedrock-runtime",
            {"dualstack": True, "fips": True},
        ),
        (
            "https://bedrock-runtime.cn-north-1.amazonaws.com.cn",
            "bedrock-runtime",
            {"region": "cn-north-1", "partition": "aws-cn"},
        ),
        (
            "https://bedrock-runtime.us-gov-west-1.amazonaws.com",
            "bedrock-runtime",
            {"region": "us-gov-west-1", "partition": "aws-us-gov"},
        ),
        (
            "https://vpce-0123456789abcdef0-abcdefgh.bedrock-runtime.us-east-1.vpce.amazonaws.com",
            "bedrock-runtime",
            {"vpce": True, "region": "us-east-1"},
        ),
        (
            "https://vpce-0123456789abcdef0-abcdefgh-us-east-1a.bedrock-runtime.us-east-1.vpce.amazonaws.com",
            "bedrock-runtime",
            {"vpce": True, "region": "us-east-1"},
        ),
        (
            "https://vpce-01234567-abcdefgh.bedrock-runtime.cn-north-1.vpce.amazonaws.com.cn",
            "bedrock-runtime",
            {"vpce": True, "partition": "aws-cn"},
        ),
        ("https://sts.us-east-1.amazonaws.com", "sts", {"region": "us-east-1", "note": None}),
        ("https://sts-fips.us-east-2.amazonaws.com", "sts", {"fips": True, "region": "us-east-2"}),
        ("https://sts.eu-central-1.api.aws", "sts", {"dualstack": True}),
        ("https://sts.cn-northwest-1.amazonaws.com.cn", "sts", {"partition": "aws-cn"}),
        ("https://sts.us-gov-east-1.amazonaws.com", "sts", {"partition": "aws-us-gov"}),
        (
            "https://vpce-0123456789abcdef0-abcdefgh.sts.eu-west-1.vpce.amazonaws.com",
            "sts",
            {"vpce": True, "region": "eu-west-1"},
        ),
        (
            "https://vpce-0123456789abcdef0-abcdefgh-eu-west-1b.sts.eu-west-1.vpce.amazonaws.com",
            "sts",
            {"vpce": True},
        ),
        ("http://127.0.0.1:4599", "bedrock-runtime", {"extra": True, "region": None}),
        ("http://127.0.0.1:4599/", "sts", {"extra": True, "url": "http://127.0.0.1:4599"}),
        ("HTTP://127.0.0.1:4599", "sts", {"extra": True, "origin": "http://127.0.0.1:4599"}),
        ("https://bedrock.mock.internal:443", "sts", {"extra": True, "partition": None}),
        ("https://BEDROCK.mock.internal", "bedrock-runtime", {"extra": True}),
        ("http://[::1]:8080", "bedrock-runtime", {"extra": True, "url": "http://[::1]:8080"}),
    ],
)
def test_check_endpoint_accepts(url: str, service: str, expected: dict[str, object]) -> None:
    endpoint = check_endpoint(url, service, EXTRA)
    assert isinstance(endpoint, Endpoint)
    assert endpoint.url == endpoint.origin
    assert not endpoint.url.endswith("/")
    for name, value in expected.items():
        assert getattr(endpoint, name) == value, name
    if not endpoint.extra:
        assert endpoint.url == f"https://{endpoint.host}"
        assert endpoint.region is not None


def test_legacy_global_sts_is_us_east_1_with_a_note() -> None:
    endpoint = check_endpoint("https://sts.amazonaws.com", "sts", [])
    assert endpoint.region == "us-east-1"
    assert endpoint.partition == "aws"
    assert endpoint.note is not None
    assert "us-east-1" in endpoint.note
    with pytest.raises(InvalidValue, match="STS host, not Bedrock"):
        check_endpoint("https://sts.amazonaws.com", "bedrock-runtime", [])


BEDROCK_HOST_MESSAGE = (
    "The host must be an Amazon Bedrock Runtime endpoint such as "
    "https://bedrock-runtime.us-east-1.amazonaws.com, or an origin allowed by EXTRA_AWS_ENDPOINTS."
)
STS_HOST_MESSAGE = (
    "The host must be an AWS STS endpoint such as https://sts.us-east-1.amazonaws.com, "
    "or an origin allowed by EXTRA_AWS_ENDPOINTS."
)
USERINFO = "Remove the user name/password part (…@) from the URL."
HTTPS = "Use https: the console only calls AWS endpoints over TLS."
IP = "IP addresses are not accepted."


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", "Enter the Bedrock endpoint URL"),
        ("bedrock-runtime.us-east-1.amazonaws.com", "Start the Bedrock endpoint URL with https://"),
        ("ftp://bedrock-runtime.us-east-1.amazonaws.com", "Use https"),
        ("file:///etc/passwd", "Use https"),
        ("gopher://bedrock-runtime.us-east-1.amazonaws.com", "Use https"),
        # plain http to an AWS host
        ("http://bedrock-runtime.us-east-1.amazonaws.com", HTTPS),
        ("http://bedrock-runtime.us-east-1.amazonaws.com:443", HTTPS),
        ("http://bedrock-runtime.us-east-1.amazonaws.com:80", HTTPS),
        # IP literals in all their spellings
        ("https://127.0.0.1", IP),
        ("http://127.0.0.1", IP),
        ("http://127.0.0.1:4600", IP),  # not the allowed port
        ("https://127.0.0.1:4599", IP),  # not the allowed scheme
        ("https://169.254.169.254", IP),
        ("http://169.254.169.254/", IP),
        ("https://2130706433", IP),
        ("https://0x7f000001", IP),
        ("https://0177.0.0.1", IP),
        ("https://127.1", IP),
        ("https://10.0.0.1", IP),
        ("https://[::1]", IP),
        ("https://[::1]:443", IP),
        ("https://[::ffff:169.254.169.254]", IP),
        ("https://[fd00:ec2::254]", IP),
        ("https://[::1", "unterminated IPv6"),
        ("https://[zz::1]", "invalid IPv6"),
        # user-info tricks
        ("https://bedrock-runtime.us-east-1.amazonaws.com@evil.example", USERINFO),
        ("https://user:pass@bedrock-runtime.us-east-1.amazonaws.com", USERINFO),
        ("https://@bedrock-runtime.us-east-1.amazonaws.com", USERINFO),
        ("http://127.0.0.1:4599@evil.example", USERINFO),
        # look-alike hosts
        ("https://bedrock-runtime.us-east-1.amazonaws.com.evil.example", BEDROCK_HOST_MESSAGE),
        ("https://evil.example/bedrock-runtime.us-east-1.amazonaws.com", "without a path"),
        ("https://bedrock-runtime.us-east-1.amazonaws.co", BEDROCK_HOST_MESSAGE),
        ("https://bedrock-runtime.us-east-1.amazonaws.com.", "trailing dot"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com..", "trailing dot"),
        ("https://xbedrock-runtime.us-east-1.amazonaws.com", BEDROCK_HOST_MESSAGE),
        ("https://bedrock-runtime.us-east-1.amazonaws.com.cn", "China regions"),
        ("https://bedrock-runtime.cn-north-1.amazonaws.com", "amazonaws.com.cn"),
        ("https://bedrock-runtime.cn-north-1.api.aws", "amazonaws.com.cn"),
        ("https://bedrock-runtime-fips.cn-north-1.amazonaws.com.cn", BEDROCK_HOST_MESSAGE),
        ("https://bedrock-runtime.us-iso-east-1.c2s.ic.gov", BEDROCK_HOST_MESSAGE),
        ("https://bedrock-runtime.useast1.amazonaws.com", BEDROCK_HOST_MESSAGE),
        ("https://bedrock-runtime.amazonaws.com", BEDROCK_HOST_MESSAGE),
        ("https://bedrock-runtime.us-east-1.amazonaws.com%2eevil.example", "percent-encoded"),
        ("https://bedrock-runtime\u3002us-east-1.amazonaws.com", "plain ASCII"),
        ("https://b\u0435drock-runtime.us-east-1.amazonaws.com", "plain ASCII"),  # Cyrillic ie
        ("https://bedrock_runtime.us-east-1.amazonaws.com", "characters that aren't allowed"),
        ("https://localhost", BEDROCK_HOST_MESSAGE),
        ("https://localhost:4599", BEDROCK_HOST_MESSAGE),
        ("https://metadata.google.internal", BEDROCK_HOST_MESSAGE),
        ("https://sts.us-east-1.amazonaws.com", "STS host, not Bedrock Runtime"),
        ("https://bedrock.us-east-1.amazonaws.com", "Bedrock control-plane host"),
        (
            "https://vpce-0123456789abcdef0-abcdefgh.bedrock-runtime.us-east-1.vpce.amazonaws.com.evil.example",
            BEDROCK_HOST_MESSAGE,
        ),
        ("https://vpce-xyz.bedrock-runtime.us-east-1.vpce.amazonaws.com", BEDROCK_HOST_MESSAGE),
        (
            "https://vpce-0123456789abcdef0-abcdefgh-eu-west-1a.bedrock-runtime.us-east-1.vpce.amazonaws.com",
            "not in region us-east-1",
        ),
        # ports
        ("https://bedrock-runtime.us-east-1.amazonaws.com:8443", "remove ':8443'"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com:80", "remove ':80'"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com:", "port must be a number"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com:0", "port must be a number"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com:65536", "port must be a number"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com:-1", "port must be a number"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com:44a", "port must be a number"),
        # query, fragment, path
        ("https://bedrock-runtime.us-east-1.amazonaws.com?x=1", "query string"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com/?x=1", "query string"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com?", "query string"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com#frag", "fragment"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com/#", "fragment"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com/model/x/invoke", "without a path"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com//", "without a path"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com/..", "without a path"),
        # characters
        ("https://bedrock-runtime.us-east-1.amazonaws.com\\@evil.example", "backslashes"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com\\.evil.example", "backslashes"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com\r\nX-Evil: 1", "line breaks"),
        ("https://bedrock-runtime.us-east-1 .amazonaws.com", "spaces"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com\x00", "control characters"),
        ("https://", "no host name"),
        ("https://:443", "no host name"),
        ("https://" + "a" * 3000 + ".com", "too long"),
    ],
)
def test_check_endpoint_rejects_bedrock(url: str, expected: str) -> None:
    with pytest.raises(InvalidValue) as excinfo:
        check_endpoint(url, "bedrock-runtime", ["http://127.0.0.1:4599"])
    text = message(excinfo)
    assert expected in text
    assert_sentence(text)
    assert "evil" not in text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://sts.us-east-1.amazonaws.com", HTTPS),
        ("http://sts.amazonaws.com", HTTPS),
        ("https://sts.us-east-1.amazonaws.com.evil.example", STS_HOST_MESSAGE),
        ("https://sts.us-east-1.amazonaws.com@evil.example", USERINFO),
        ("https://sts.us-east-1.amazonaws.com:8443", "remove ':8443'"),
        ("https://sts.us-east-1.amazonaws.com/?Action=AssumeRole", "query string"),
        ("https://sts.us-east-1.amazonaws.com.", "trailing dot"),
        ("https://sts.amazonaws.com.", "trailing dot"),
        ("https://169.254.169.254", IP),
        ("https://[::1]", IP),
        ("https://2130706433", IP),
        ("https://bedrock-runtime.us-east-1.amazonaws.com", "Bedrock Runtime host, not STS"),
        ("https://sts.evil.example", STS_HOST_MESSAGE),
        ("https://sts.amazonaws.com.cn", STS_HOST_MESSAGE),
        ("https://sts-fips.amazonaws.com", STS_HOST_MESSAGE),
        ("https://iam.amazonaws.com", STS_HOST_MESSAGE),
        ("", "Enter the STS endpoint URL"),
    ],
)
def test_check_endpoint_rejects_sts(url: str, expected: str) -> None:
    with pytest.raises(InvalidValue) as excinfo:
        check_endpoint(url, "sts", [])
    text = message(excinfo)
    assert expected in text
    assert "evil" not in text


def test_generic_host_messages_are_exact() -> None:
    with pytest.raises(InvalidValue) as excinfo:
        check_endpoint("https://example.com", "sts", [])
    assert message(excinfo) == STS_HOST_MESSAGE
    with pytest.raises(InvalidValue) as excinfo:
        check_endpoint("https://example.com", "bedrock-runtime", [])
    assert message(excinfo) == BEDROCK_HOST_MESSAGE


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("http://127.0.0.1:4599", []),
        ("http://127.0.0.1:4599", ["http://127.0.0.1:4598"]),
        ("http://127.0.0.1:4599", ["https://127.0.0.1:4599"]),
        ("http://127.0.0.1:4599", ["http://localhost:4599"]),
        ("http://localhost:4599", ["http://127.0.0.1:4599"]),
        ("http://127.0.0.1", ["http://127.0.0.1:4599"]),
        ("http://127.0.0.1:80", ["http://127.0.0.1:8080"]),
        ("http://127.0.0.1:4599", ["not a url", "", "http://user@127.0.0.1:4599"]),
        ("http://127.0.0.1:4599", ["http://127.0.0.1:4599/path"]),
    ],
)
def test_extra_origins_compare_exactly(url: str, extra: list[str]) -> None:
    with pytest.raises(InvalidValue):
        check_endpoint(url, "bedrock-runtime", extra)


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("http://localhost", ["http://localhost:80"]),
        ("http://localhost:80", ["http://localhost"]),
        ("https://mock.test", ["https://mock.test:443/"]),
        ("http://LOCALHOST:4599", ["http://localhost:4599"]),
        ("http://localhost:4599", ["HTTP://LocalHost:4599"]),
    ],
)
def test_extra_origins_normalise_default_ports_and_case(url: str, extra: list[str]) -> None:
    endpoint = check_endpoint(url, "sts", extra)
    assert endpoint.extra
    assert endpoint.region is None and endpoint.partition is None
    assert not (endpoint.fips or endpoint.dualstack or endpoint.vpce)


def test_extra_origin_rules_still_apply() -> None:
    extra = ["http://127.0.0.1:4599"]
    with pytest.raises(InvalidValue, match="query string"):
        check_endpoint("http://127.0.0.1:4599/?x=1", "sts", extra)
    with pytest.raises(InvalidValue, match="without a path"):
        check_endpoint("http://127.0.0.1:4599/model", "sts", extra)
    with pytest.raises(InvalidValue, match="user name/password"):
        check_endpoint("http://a@127.0.0.1:4599", "sts", extra)


def test_extra_origins_may_be_none_or_a_single_string() -> None:
    assert check_endpoint("https://sts.us-east-1.amazonaws.com", "sts", None).region == "us-east-1"
    assert check_endpoint("http://127.0.0.1:4599", "sts", "http://127.0.0.1:4599").extra  # type: ignore[arg-type]


def test_check_extra_origin() -> None:
    assert check_extra_origin("http://127.0.0.1:4599/") == "http://127.0.0.1:4599"
    assert check_extra_origin("HTTPS://Mock.Test:443") == "https://mock.test"
    with pytest.raises(InvalidValue):
        check_extra_origin("http://127.0.0.1:4599/path")


def test_check_endpoint_unknown_service() -> None:
    with pytest.raises(ValueError, match="service"):
        check_endpoint("https://s3.amazonaws.com", "s3", [])


def test_endpoint_messages_do_not_echo_long_paths() -> None:
    with pytest.raises(InvalidValue) as excinfo:
        check_endpoint(
            "https://bedrock-runtime.us-east-1.amazonaws.com/" + "p" * 500, "bedrock-runtime", []
        )
    assert "p" * ECHO_LIMIT not in message(excinfo)


# ---------------------------------------------------------------------------------------------
# normalise_sts_url
# ---------------------------------------------------------------------------------------------

ASSUME_QUERY = (
    f"Action=AssumeRole&RoleArn=arn:aws:iam::{ACCOUNT}:role/R"
    "&RoleSessionName=s&ExternalId=secret-ext&Version=2011-06-15"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://sts.us-east-1.amazonaws.com", "https://sts.us-east-1.amazonaws.com"),
        ("https://sts.us-east-1.amazonaws.com/", "https://sts.us-east-1.amazonaws.com"),
        (" https://sts.us-east-1.amazonaws.com/ ", "https://sts.us-east-1.amazonaws.com"),
        (
            f"https://sts.us-east-1.amazonaws.com/?{ASSUME_QUERY}",
            "https://sts.us-east-1.amazonaws.com",
        ),
        (
            f"https://sts.us-east-1.amazonaws.com?{ASSUME_QUERY}",
            "https://sts.us-east-1.amazonaws.com",
        ),
        ("https://sts.amazonaws.com/?Action=assumerole", "https://sts.amazonaws.com"),
        ("https://sts.us-east-1.amazonaws.com/?", "https://sts.us-east-1.amazonaws.com"),
        ("http://127.0.0.1:4599/?Action=AssumeRole", "http://127.0.0.1:4599"),
        ("https://sts.us-east-1.amazonaws.com:443/", "https://sts.us-east-1.amazonaws.com:443"),
        # user-info is kept so that check_endpoint refuses it
        (
            "https://a@sts.us-east-1.amazonaws.com/?Action=AssumeRole",
            "https://a@sts.us-east-1.amazonaws.com",
        ),
        ("sts.us-east-1.amazonaws.com", "sts.us-east-1.amazonaws.com"),
    ],
)
def test_normalise_sts_url(value: str, expected: str) -> None:
    assert normalise_sts_url(value) == expected


def test_normalised_user_info_is_still_refused() -> None:
    url = normalise_sts_url(f"https://sts.us-east-1.amazonaws.com@evil.example/?{ASSUME_QUERY}")
    with pytest.raises(InvalidValue, match="user name/password"):
        check_endpoint(url, "sts", [])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://sts.us-east-1.amazonaws.com/?x=1", "The STS API is the endpoint alone"),
        ("https://sts.us-east-1.amazonaws.com/?Action=GetSessionToken", "endpoint alone"),
        (
            "https://sts.us-east-1.amazonaws.com/?Action=AssumeRole&Action=GetSessionToken",
            "endpoint alone",
        ),
        ("https://sts.us-east-1.amazonaws.com/?RoleArn=x", "endpoint alone"),
        ("https://sts.us-east-1.amazonaws.com/path?Action=AssumeRole", "remove the path"),
        ("https://sts.us-east-1.amazonaws.com/path", "remove the path"),
        ("https://sts.us-east-1.amazonaws.com/#x", "fragment"),
        ("https://sts.us-east-1.amazonaws.com/?Action=AssumeRole#x", "fragment"),
        ("", "Enter the STS endpoint URL"),
    ],
)
def test_normalise_sts_url_rejects(value: str, expected: str) -> None:
    with pytest.raises(InvalidValue) as excinfo:
        normalise_sts_url(value)
    assert expected in message(excinfo)
    assert "secret-ext" not in message(excinfo)


def test_normalise_sts_url_never_echoes_the_query() -> None:
    with pytest.raises(InvalidValue) as excinfo:
        normalise_sts_url("https://sts.us-east-1.amazonaws.com/?ExternalId=secret-ext")
    assert "secret-ext" not in message(excinfo)


# ---------------------------------------------------------------------------------------------
# Default endpoints, region mismatch, profile regions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "partition", "bedrock", "sts"),
    [
        (
            "us-east-1",
            "aws",
            "https://bedrock-runtime.us-east-1.amazonaws.com",
            "https://sts.us-east-1.amazonaws.com",
        ),
        (
            "eu-west-3",
            "aws",
            "https://bedrock-runtime.eu-west-3.amazonaws.com",
            "https://sts.eu-west-3.amazonaws.com",
        ),
        (
            "cn-north-1",
            "aws-cn",
            "https://bedrock-runtime.cn-north-1.amazonaws.com.cn",
            "https://sts.cn-north-1.amazonaws.com.cn",
        ),
        (
            "us-gov-west-1",
            "aws-us-gov",
            "https://bedrock-runtime.us-gov-west-1.amazonaws.com",
            "https://sts.us-gov-west-1.amazonaws.com",
        ),
    ],
)
def test_default_endpoints(region: str, partition: str, bedrock: str, sts: str) -> None:
    assert default_bedrock_endpoint(region, partition) == bedrock
    assert default_sts_endpoint(region, partition) == sts
    # Defaults pass their own checks.
    assert check_endpoint(bedrock, "bedrock-runtime", []).region == region
    assert check_endpoint(sts, "sts", []).region == region


def test_default_endpoint_partition_defaults_to_aws() -> None:
    assert (
        default_bedrock_endpoint("us-west-2") == "https://bedrock-runtime.us-west-2.amazonaws.com"
    )
    assert default_sts_endpoint("us-west-2") == "https://sts.us-west-2.amazonaws.com"


@pytest.mark.parametrize(
    ("region", "partition"),
    [("cn-north-1", "aws"), ("us-east-1", "aws-cn"), ("bad", "aws"), ("us-east-1", "aws-iso")],
)
def test_default_endpoints_reject(region: str, partition: str) -> None:
    with pytest.raises(InvalidValue):
        default_bedrock_endpoint(region, partition)
    with pytest.raises(InvalidValue):
        default_sts_endpoint(region, partition)


def test_region_mismatch() -> None:
    model = parse_model_id(f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{HAIKU}")
    us = check_endpoint("https://bedrock-runtime.us-east-1.amazonaws.com", "bedrock-runtime", [])
    eu = check_endpoint("https://bedrock-runtime.eu-west-1.amazonaws.com", "bedrock-runtime", [])
    extra = check_endpoint("http://127.0.0.1:4599", "bedrock-runtime", ["http://127.0.0.1:4599"])
    warning = region_mismatch(model, us)
    assert warning is not None
    assert warning.startswith("The Bedrock ARN is in eu-west-1 but the Endpoint is in us-east-1:")
    assert "https://bedrock-runtime.eu-west-1.amazonaws.com" in warning
    assert region_mismatch(model, eu) is None
    assert region_mismatch(model, extra) is None
    assert region_mismatch(parse_model_id(HAIKU), us) is None
    assert region_mismatch(parse_model_id(f"eu.{HAIKU}"), us) is None


def test_region_mismatch_china_suggestion() -> None:
    model = parse_model_id(f"arn:aws-cn:bedrock:cn-north-1::foundation-model/{HAIKU}")
    other = check_endpoint(
        "https://bedrock-runtime.cn-northwest-1.amazonaws.com.cn", "bedrock-runtime", []
    )
    warning = region_mismatch(model, other)
    assert warning is not None
    assert "https://bedrock-runtime.cn-north-1.amazonaws.com.cn" in warning


@pytest.mark.parametrize(
    ("geo", "regions"),
    [
        ("us", ["us-east-1", "us-east-2", "us-west-2"]),
        (
            "eu",
            ["eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1", "eu-south-1", "eu-south-2"],
        ),
        (
            "apac",
            [
                "ap-northeast-1",
                "ap-northeast-2",
                "ap-northeast-3",
                "ap-south-1",
                "ap-south-2",
                "ap-southeast-1",
                "ap-southeast-2",
                "ap-southeast-4",
            ],
        ),
        ("jp", ["ap-northeast-1", "ap-northeast-3"]),
        ("au", ["ap-southeast-2", "ap-southeast-4"]),
        ("ca", ["ca-central-1", "ca-west-1"]),
        ("us-gov", ["us-gov-west-1", "us-gov-east-1"]),
        ("global", ["*"]),
    ],
)
def test_profile_regions(geo: str, regions: list[str]) -> None:
    assert profile_regions(geo) == regions
    # A copy: callers can't change the table.
    profile_regions(geo).append("xx-test-1")
    assert profile_regions(geo) == regions


def test_every_geo_has_regions() -> None:
    assert set(GEOS) == {"us", "eu", "apac", "jp", "au", "ca", "us-gov", "global"}
    for geo in GEOS:
        assert profile_regions(geo)


def test_profile_regions_unknown() -> None:
    with pytest.raises(InvalidValue, match="Unknown inference profile geography"):
        profile_regions("mars")


# ---------------------------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------------------------


def test_trust_policy_with_principal() -> None:
    principal = f"arn:aws:iam::{ACCOUNT}:role/Platform"
    policy = trust_policy(principal, "ext-id_123")
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BedrockConsoleAssumeRole",
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "ext-id_123"}},
            }
        ],
    }


def test_trust_policy_placeholder() -> None:
    policy = trust_policy(None, "abc")
    statement = policy["Statement"][0]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::<PLATFORM_ACCOUNT_ID>:root"}
    assert PLACEHOLDER_PRINCIPAL == "arn:aws:iam::<PLATFORM_ACCOUNT_ID>:root"
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"


@pytest.mark.parametrize(
    ("principal", "external_id"),
    [
        ("not-an-arn", "abc"),
        (f"arn:aws:s3:::{ACCOUNT}", "abc"),
        (f"arn:aws:iam::{ACCOUNT}:role/../x", "abc"),
        (f"arn:aws:iam::{ACCOUNT}:role/x\n", "a b"),
        (None, "x"),
        (None, "has space"),
    ],
)
def test_trust_policy_rejects(principal: str | None, external_id: str) -> None:
    with pytest.raises(InvalidValue):
        trust_policy(principal, external_id)


def _resources(policy: dict[str, object], index: int) -> list[str]:
    statements = policy["Statement"]
    assert isinstance(statements, list)
    resources = statements[index]["Resource"]
    assert isinstance(resources, list)
    return resources


def test_permission_policy_base_model() -> None:
    policy = permission_policy(parse_model_id(HAIKU), "us-east-1")
    assert policy["Version"] == "2012-10-17"
    assert len(policy["Statement"]) == 1
    statement = policy["Statement"][0]
    assert statement["Action"] == "bedrock:InvokeModel"
    assert statement["Effect"] == "Allow"
    assert statement["Sid"]
    assert statement["Resource"] == [f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"]


def test_permission_policy_base_model_region_unknown_and_partition() -> None:
    assert _resources(permission_policy(parse_model_id(HAIKU), None), 0) == [
        f"arn:aws:bedrock:*::foundation-model/{HAIKU}"
    ]
    assert _resources(permission_policy(parse_model_id(HAIKU), "cn-north-1"), 0) == [
        f"arn:aws-cn:bedrock:cn-north-1::foundation-model/{HAIKU}"
    ]
    with pytest.raises(InvalidValue):
        permission_policy(parse_model_id(HAIKU), "not a region")


def test_permission_policy_foundation_model_arn() -> None:
    arn = f"arn:aws:bedrock:eu-west-1::foundation-model/{HAIKU}"
    # The ARN's own region wins over the argument.
    policy = permission_policy(parse_model_id(arn), "us-east-1")
    assert _resources(policy, 0) == [arn]
    assert len(policy["Statement"]) == 1


def test_permission_policy_system_profile() -> None:
    policy = permission_policy(parse_model_id(f"us.{SONNET}"), "us-east-1")
    assert _resources(policy, 0) == [
        f"arn:aws:bedrock:us-east-1:{PLACEHOLDER_ACCOUNT_ID}:inference-profile/us.{SONNET}"
    ]
    assert _resources(policy, 1) == [
        f"arn:aws:bedrock:{r}::foundation-model/{SONNET}"
        for r in ("us-east-1", "us-east-2", "us-west-2")
    ]
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(set(sids)) == 2
    assert all(re.fullmatch(r"[A-Za-z0-9]{1,40}", sid) for sid in sids)


def test_permission_policy_system_profile_source_region_outside_list() -> None:
    policy = permission_policy(parse_model_id(f"us.{SONNET}"), "us-west-1")
    assert f"arn:aws:bedrock:us-west-1::foundation-model/{SONNET}" in _resources(policy, 1)


def test_permission_policy_global_profile() -> None:
    policy = permission_policy(parse_model_id(f"global.{HAIKU}"), "eu-west-1")
    assert _resources(policy, 0) == [
        f"arn:aws:bedrock:eu-west-1:<ACCOUNT_ID>:inference-profile/global.{HAIKU}"
    ]
    assert _resources(policy, 1) == [f"arn:aws:bedrock:*::foundation-model/{HAIKU}"]


def test_permission_policy_us_gov_profile_without_region() -> None:
    policy = permission_policy(parse_model_id(f"us-gov.{HAIKU}"), None)
    assert _resources(policy, 0)[0].startswith("arn:aws-us-gov:bedrock:*:<ACCOUNT_ID>:")
    assert _resources(policy, 1) == [
        f"arn:aws-us-gov:bedrock:{r}::foundation-model/{HAIKU}"
        for r in ("us-gov-west-1", "us-gov-east-1")
    ]


def test_permission_policy_inference_profile_arn() -> None:
    arn = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{HAIKU}"
    policy = permission_policy(parse_model_id(arn), None)
    assert _resources(policy, 0) == [arn]
    assert _resources(policy, 1) == [
        f"arn:aws:bedrock:{r}::foundation-model/{HAIKU}" for r in profile_regions("eu")
    ]


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abcdef123456",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abcdef123456",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/{HAIKU}/abcdef123456",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:prompt/ABCDEFGHIJ:1",
    ],
)
def test_permission_policy_other_arns(arn: str) -> None:
    policy = permission_policy(parse_model_id(arn), "eu-west-1")
    assert len(policy["Statement"]) == 1
    assert _resources(policy, 0) == [arn]


def test_permission_policy_streaming() -> None:
    policy = permission_policy(parse_model_id(HAIKU), "us-east-1", streaming=True)
    assert policy["Statement"][0]["Action"] == [
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
    ]


# ---------------------------------------------------------------------------------------------
# External id and session names
# ---------------------------------------------------------------------------------------------


def test_generate_external_id() -> None:
    values = {generate_external_id() for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert len(value) >= 32
        assert re.fullmatch(r"[\w+=,.@:/-]+", value, flags=re.ASCII)
        assert validate_external_id(value) == value


@pytest.mark.parametrize("value", ["ab", "a" * 1224, "x+=,.@:/-_Z9", " padded-id "])
def test_validate_external_id_accepts(value: str) -> None:
    assert validate_external_id(value) == value.strip()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "2 to 1224 characters (got 0)"),
        ("a", "2 to 1224 characters (got 1)"),
        ("a" * 1225, "2 to 1224 characters (got 1225)"),
        ("has space", "found a space"),
        ("semi;colon", "found ';'"),
        ("ctrl\x01char", "control character"),
        ("unicodé", "found 'é'"),
    ],
)
def test_validate_external_id_rejects(value: str, expected: str) -> None:
    with pytest.raises(InvalidValue) as excinfo:
        validate_external_id(value)
    assert expected in message(excinfo)
    if len(value) > 3:
        assert value not in message(excinfo)


@pytest.mark.parametrize("value", ["ab", "console-u7-alice-i12", "a+=,.@_-b", "x" * 64])
def test_validate_session_name_accepts(value: str) -> None:
    assert validate_session_name(value) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", "2 to 64 characters (got 1)"),
        ("x" * 65, "2 to 64 characters (got 65)"),
        ("has space", "found a space"),
        ("a:b", "found ':'"),
        ("a/b", "found '/'"),
    ],
)
def test_validate_session_name_rejects(value: str, expected: str) -> None:
    with pytest.raises(InvalidValue, match=re.escape(expected)):
        validate_session_name(value)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("console", "u7", "alice", "i12"), "console-u7-alice-i12"),
        (("console", 7, "alice@example.com"), "console-7-alice@example.com"),
        (("console", "Jean Dupont", "i1"), "console-Jean-Dupont-i1"),
        (("console", "a/b:c", "i1"), "console-a-b-c-i1"),
        (("console", "--x--", "", None, "i1"), "console-x-i1"),
        (("José",), "Jos"),
        (("a",), "a-session"),
        ((), "bedrock-console"),
        (("???",), "bedrock-console"),
    ],
)
def test_make_session_name(parts: tuple[object, ...], expected: str) -> None:
    assert make_session_name(*parts) == expected


def test_make_session_name_truncates_the_longest_part() -> None:
    name = make_session_name("console", "u7", "x" * 200, "i12")
    assert len(name) == 64
    assert name.startswith("console-u7-x")
    assert name.endswith("-i12")
    assert validate_session_name(name) == name


def test_make_session_name_many_parts() -> None:
    name = make_session_name(*["part"] * 40)
    assert 2 <= len(name) <= 64
    assert validate_session_name(name) == name


# ---------------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("X-Custom-Header", "X-Custom-Header"),
        ("User-Agent", "User-Agent"),
        ("Accept", "Accept"),
        ("x-tenant!#$%&'*+.^_`|~", "x-tenant!#$%&'*+.^_`|~"),
        ("  X-Padded  ", "X-Padded"),
        ("x-amzn-bedrock-trace", "X-Amzn-Bedrock-Trace"),
        ("X-Amzn-Bedrock-GuardrailIdentifier", "X-Amzn-Bedrock-GuardrailIdentifier"),
        ("X-AMZN-BEDROCK-GUARDRAILVERSION", "X-Amzn-Bedrock-GuardrailVersion"),
        ("X-Amzn-Bedrock-PerformanceConfig-Latency", "X-Amzn-Bedrock-PerformanceConfig-Latency"),
        ("x-amzn-bedrock-service-tier", "X-Amzn-Bedrock-Service-Tier"),
        ("H" * 100, "H" * 100),
    ],
)
def test_validate_header_name_accepts(name: str, expected: str) -> None:
    assert validate_header_name(name) == expected
    assert len(BEDROCK_REQUEST_HEADERS) == 5


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", "Enter a header name"),
        ("H" * 101, "at most 100 characters (got 101)"),
        ("Bad Header", "found a space"),
        ("Bad:Header", "found ':'"),
        ("Bad\r\nX-Evil", "control character"),
        ("Bad(Header)", "found '('"),
        ("Hé", "found 'é'"),
        ("Authorization", "signs each request"),
        ("authorization", "signs each request"),
        ("Cookie", "signs each request"),
        ("Host", "set by the HTTP client"),
        ("HOST", "set by the HTTP client"),
        ("Content-Length", "set by the HTTP client"),
        ("Content-Type", "set by the HTTP client"),
        ("Content-Encoding", "set by the HTTP client"),
        ("Expect", "set by the HTTP client"),
        ("Accept-Encoding", "set by the HTTP client"),
        ("Transfer-Encoding", "hop-by-hop"),
        ("Connection", "hop-by-hop"),
        ("Keep-Alive", "hop-by-hop"),
        ("Upgrade", "hop-by-hop"),
        ("TE", "hop-by-hop"),
        ("Trailer", "hop-by-hop"),
        ("Proxy-Authorization", "hop-by-hop or proxy"),
        ("proxy-connection", "hop-by-hop or proxy"),
        ("X-Amz-Date", "X-Amz-* headers belong to AWS request signing"),
        ("X-Amz-Security-Token", "X-Amz-*"),
        ("x-amz-content-sha256", "X-Amz-*"),
        ("X-Amzn-Trace-Id", "only X-Amzn-* headers allowed are the Bedrock ones"),
        ("X-Amzn-Bedrock-Accept", "only X-Amzn-* headers allowed"),
        ("X-Amzn-Bedrock-Trace-Extra", "only X-Amzn-* headers allowed"),
    ],
)
def test_validate_header_name_rejects(name: str, expected: str) -> None:
    with pytest.raises(InvalidValue) as excinfo:
        validate_header_name(name)
    text = message(excinfo)
    assert expected in text
    assert_sentence(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ENABLED", "ENABLED"),
        ("a\tb", "a\tb"),
        ("", ""),
        ("  spaced  ", "spaced"),
        ("x" * 4096, "x" * 4096),
        ("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    ],
)
def test_validate_header_value_accepts(value: str, expected: str) -> None:
    assert validate_header_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("secret\r\nX-Evil: 1", "single line"),
        ("secret\nmore", "single line"),
        ("secret\rmore", "single line"),
        ("secret\x00more", "NUL"),
        ("secret\x1bmore", "control character (U+001B)"),
        ("secret\x7fmore", "control character (U+007F)"),
        ("secrét", "plain ASCII"),
        ("s" * 4097, "at most 4096 characters (got 4097)"),
    ],
)
def test_validate_header_value_rejects_without_echo(value: str, expected: str) -> None:
    with pytest.raises(InvalidValue) as excinfo:
        validate_header_value(value)
    text = message(excinfo)
    assert expected in text
    assert "secret" not in text and "secr" not in text
    assert "sss" not in text


def test_header_value_non_text() -> None:
    with pytest.raises(InvalidValue, match="must be text"):
        validate_header_value(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="must be text"):
        validate_header_name(b"X-A")  # type: ignore[arg-type]
