"""Unit tests for bedrock.policies (no database, no Django)."""

from __future__ import annotations

import re

import pytest

from bedrock.arns import parse_model_id
from bedrock.policies import (
    PLACEHOLDER_ACCOUNT_ID,
    PLACEHOLDER_PRINCIPAL,
    generate_external_id,
    make_session_name,
    permission_policy,
    trust_policy,
    validate_external_id,
    validate_session_name,
)
from bedrock.regions import profile_regions
from bedrock.values import InvalidValue
from tests.unit.helpers import ACCOUNT, HAIKU, SONNET, message

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
    # AWS's shape for a geographic profile: the profile in the source region, and the model in
    # every region the profile routes to, only through the profile.
    policy = permission_policy(parse_model_id(f"us.{SONNET}"), "us-east-1")
    profile = f"arn:aws:bedrock:us-east-1:{PLACEHOLDER_ACCOUNT_ID}:inference-profile/us.{SONNET}"
    assert policy["Statement"] == [
        {
            "Sid": "GrantGeoCrisInferenceProfileAccess",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": [profile],
        },
        {
            "Sid": "GrantGeoCrisModelAccess",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": [
                f"arn:aws:bedrock:{r}::foundation-model/{SONNET}"
                for r in ("us-east-1", "us-east-2", "us-west-2")
            ],
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
        },
    ]
    sids = [s["Sid"] for s in policy["Statement"]]
    assert all(re.fullmatch(r"[A-Za-z0-9]{1,40}", sid) for sid in sids)


def test_permission_policy_system_profile_in_the_roles_account() -> None:
    policy = permission_policy(parse_model_id(f"eu.{HAIKU}"), "eu-west-3", account=ACCOUNT)
    profile = f"arn:aws:bedrock:eu-west-3:{ACCOUNT}:inference-profile/eu.{HAIKU}"
    assert _resources(policy, 0) == [profile]
    assert policy["Statement"][1]["Condition"] == {
        "StringEquals": {"bedrock:InferenceProfileArn": profile}
    }
    assert _resources(policy, 1) == [
        f"arn:aws:bedrock:{r}::foundation-model/{HAIKU}" for r in profile_regions("eu")
    ]


def test_permission_policy_system_profile_source_region_outside_list() -> None:
    policy = permission_policy(parse_model_id(f"us.{SONNET}"), "us-west-1")
    assert f"arn:aws:bedrock:us-west-1::foundation-model/{SONNET}" in _resources(policy, 1)


def test_permission_policy_global_profile() -> None:
    # AWS's three statements for a global profile; the region-less model ARN is what a call
    # routed to any commercial region is authorized against (aws:RequestedRegion unspecified).
    policy = permission_policy(
        parse_model_id(f"global.{HAIKU}"), "eu-west-1", streaming=True, account=ACCOUNT
    )
    profile = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/global.{HAIKU}"
    both = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    via = {"bedrock:InferenceProfileArn": profile}
    assert policy["Statement"] == [
        {
            "Sid": "GrantGlobalCrisProfileAccess",
            "Effect": "Allow",
            "Action": both,
            "Resource": [profile],
            "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
        },
        {
            "Sid": "GrantGlobalCrisSourceModelAccess",
            "Effect": "Allow",
            "Action": both,
            "Resource": [f"arn:aws:bedrock:eu-west-1::foundation-model/{HAIKU}"],
            "Condition": {"StringEquals": {**via, "aws:RequestedRegion": "eu-west-1"}},
        },
        {
            "Sid": "GrantGlobalCrisGlobalModelAccess",
            "Effect": "Allow",
            "Action": both,
            "Resource": [f"arn:aws:bedrock:::foundation-model/{HAIKU}"],
            "Condition": {"StringEquals": {**via, "aws:RequestedRegion": "unspecified"}},
        },
    ]


def test_permission_policy_global_profile_region_unknown() -> None:
    policy = permission_policy(parse_model_id(f"global.{HAIKU}"), None)
    profile = f"arn:aws:bedrock:*:<ACCOUNT_ID>:inference-profile/global.{HAIKU}"
    assert _resources(policy, 0) == [profile]
    assert "Condition" not in policy["Statement"][0]
    # A wildcard region: the profile is matched with ArnLike.
    assert policy["Statement"][1]["Condition"] == {
        "ArnLike": {"bedrock:InferenceProfileArn": profile}
    }
    assert _resources(policy, 2) == [f"arn:aws:bedrock:::foundation-model/{HAIKU}"]


def test_permission_policy_us_gov_profile_without_region() -> None:
    policy = permission_policy(parse_model_id(f"us-gov.{HAIKU}"), None)
    assert _resources(policy, 0)[0].startswith("arn:aws-us-gov:bedrock:*:<ACCOUNT_ID>:")
    assert _resources(policy, 1) == [
        f"arn:aws-us-gov:bedrock:{r}::foundation-model/{HAIKU}"
        for r in ("us-gov-west-1", "us-gov-east-1")
    ]


def test_permission_policy_inference_profile_arn() -> None:
    arn = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{HAIKU}"
    # The ARN's own account wins over the role's.
    policy = permission_policy(parse_model_id(arn), None, account="999999999999")
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
