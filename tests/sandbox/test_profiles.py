"""Cross-region inference profiles: ids and ARNs as modelId, the regions they may be called
from, and the permissions IAM checks for them (the profile and the models it routes to)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bedrock.arns import parse_model_id
from bedrock.policies import permission_policy
from sandbox.server import SandboxServer

from .helpers import error_of, invoke_json

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
ROLE = "arn:aws:iam::444455556666:role/ProfileUser"
ACCOUNT = "444455556666"
EXTERNAL_ID = "ext-profiles"
SESSION = "arn:aws:sts::444455556666:assumed-role/ProfileUser/profiles"


@pytest.fixture
def with_policy(
    sandbox: SandboxServer, assume: Callable[..., dict[str, Any]], make_bedrock: Callable[..., Any]
) -> Callable[..., Any]:
    """A client of a role whose permissions are exactly ``policy``, calling from ``region``."""

    def make(policy: dict[str, Any], region: str = "us-east-1") -> Any:
        sandbox.state.add_role(ROLE, EXTERNAL_ID, policy=policy)
        return make_bedrock(assume(ROLE, EXTERNAL_ID, session_name="profiles"), region=region)

    return make


def console_policy(model_id: str, region: str) -> dict[str, Any]:
    return permission_policy(parse_model_id(model_id), region, streaming=True, account=ACCOUNT)


@pytest.mark.parametrize(
    ("model_id", "region"),
    [
        (f"us.{HAIKU}", "us-east-1"),
        (f"us.{HAIKU}", "us-west-2"),
        (f"eu.{HAIKU}", "eu-west-3"),
        (f"apac.{HAIKU}", "ap-southeast-2"),
        (f"global.{HAIKU}", "eu-west-1"),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{HAIKU}", "us-east-1"),
        (f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/global.{HAIKU}", "eu-west-1"),
        (HAIKU, "eu-west-1"),
    ],
)
def test_the_consoles_policy_lets_the_profile_through(
    with_policy: Callable[..., Any], model_id: str, region: str
) -> None:
    client = with_policy(console_policy(model_id, region), region)
    _, answer = invoke_json(client, model_id)
    assert answer["model"] == HAIKU
    # Streaming needs the second action, which the policy gives too.
    reply = client.converse_stream(
        modelId=model_id, messages=[{"role": "user", "content": [{"text": "Hi"}]}]
    )
    events = list(reply["stream"])
    assert any("messageStop" in e for e in events)


def _without(policy: dict[str, Any], resource: str) -> dict[str, Any]:
    policy = copy.deepcopy(policy)
    for statement in policy["Statement"]:
        statement["Resource"] = [r for r in statement["Resource"] if r != resource]
    return policy


@pytest.mark.parametrize(
    ("model_id", "region", "missing"),
    [
        # The profile itself.
        (
            f"us.{HAIKU}",
            "us-east-1",
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{HAIKU}",
        ),
        # One region the profile routes to.
        (f"us.{HAIKU}", "us-east-1", f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}"),
        (f"eu.{HAIKU}", "eu-west-1", f"arn:aws:bedrock:eu-north-1::foundation-model/{HAIKU}"),
        # A global profile's region-less model ARN, and its source region's model.
        (f"global.{HAIKU}", "us-east-1", f"arn:aws:bedrock:::foundation-model/{HAIKU}"),
        (f"global.{HAIKU}", "us-east-1", f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"),
    ],
)
def test_a_missing_resource_is_refused_naming_it(
    with_policy: Callable[..., Any], model_id: str, region: str, missing: str
) -> None:
    client = with_policy(_without(console_policy(model_id, region), missing), region)
    with pytest.raises(ClientError) as caught:
        invoke_json(client, model_id)
    code, message, status = error_of(caught)
    assert (code, status) == ("AccessDeniedException", 403)
    assert message == (
        f"User: {SESSION} is not authorized to perform: bedrock:InvokeModel on resource: "
        f"{missing} because no identity-based policy allows the bedrock:InvokeModel action"
    )


def test_the_models_are_allowed_only_through_the_profile(
    with_policy: Callable[..., Any],
) -> None:
    # The policy of a us. profile allows the model in us-east-1 only through that profile.
    client = with_policy(console_policy(f"us.{HAIKU}", "us-east-1"))
    invoke_json(client, f"us.{HAIKU}")
    with pytest.raises(ClientError) as caught:
        invoke_json(client, HAIKU)
    assert error_of(caught)[0] == "AccessDeniedException"


def test_a_wildcard_policy_matches_the_region_less_arn(with_policy: Callable[..., Any]) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "bedrock:InvokeModel*",
                "Resource": [
                    "arn:aws:bedrock:*::foundation-model/*",
                    "arn:aws:bedrock:*:*:inference-profile/*",
                ],
            }
        ],
    }
    invoke_json(with_policy(policy), f"global.{HAIKU}")


def test_a_deny_statement_wins(with_policy: Callable[..., Any]) -> None:
    policy = console_policy(f"us.{HAIKU}", "us-east-1")
    policy["Statement"].append(
        {
            "Effect": "Deny",
            "Action": "bedrock:*",
            "Resource": f"arn:aws:bedrock:us-east-2::foundation-model/{HAIKU}",
        }
    )
    with pytest.raises(ClientError) as caught:
        invoke_json(with_policy(policy), f"us.{HAIKU}")
    assert error_of(caught)[0] == "AccessDeniedException"


@pytest.mark.parametrize(
    ("model_id", "region"),
    [
        # A geographic profile is offered in the regions of its geography only.
        (f"eu.{HAIKU}", "us-east-1"),
        (f"us.{HAIKU}", "eu-west-1"),
        (f"apac.{HAIKU}", "us-west-2"),
        # An ARN names its region: it is called there.
        (f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{HAIKU}", "eu-west-3"),
        (f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}", "us-west-2"),
        # An inference-profile ARN ends in a system profile id.
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/{HAIKU}", "us-east-1"),
    ],
)
def test_profiles_where_bedrock_does_not_offer_them_are_invalid(
    assume: Callable[..., dict[str, Any]],
    make_bedrock: Callable[..., Any],
    model_id: str,
    region: str,
) -> None:
    client = make_bedrock(assume(), region=region)
    with pytest.raises(ClientError) as caught:
        invoke_json(client, model_id)
    code, message, status = error_of(caught)
    assert (code, message, status) == (
        "ValidationException",
        "The provided model identifier is invalid.",
        400,
    )


def test_a_global_profile_is_called_from_any_region(
    assume: Callable[..., dict[str, Any]], make_bedrock: Callable[..., Any]
) -> None:
    for region in ("us-east-1", "eu-central-1", "ap-south-1", "sa-east-1"):
        client = make_bedrock(assume(), region=region)
        _, answer = invoke_json(client, f"global.{HAIKU}")
        assert answer["type"] == "message"


def test_a_policy_that_is_not_one_is_refused(sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError, match="Statement"):
        sandbox.state.add_role(ROLE, EXTERNAL_ID, policy={"Version": "2012-10-17"})
    with pytest.raises(ValueError, match="condition operators"):
        sandbox.state.add_role(
            ROLE,
            EXTERNAL_ID,
            policy={
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {}}}
                ]
            },
        )
