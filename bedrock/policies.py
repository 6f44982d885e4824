"""What the customer puts on their role (trust and permission policies) and the AssumeRole
parameters the console sends (External IDs, session names)."""

from __future__ import annotations

import re
import secrets
from typing import Any, Final

from bedrock.arns import ModelRef, foundation_model_arn
from bedrock.regions import partition_for_region, profile_regions, validate_region
from bedrock.values import InvalidValue, first_bad_char

__all__ = [
    "PLACEHOLDER_ACCOUNT_ID",
    "PLACEHOLDER_PRINCIPAL",
    "generate_external_id",
    "make_session_name",
    "permission_policy",
    "trust_policy",
    "validate_external_id",
    "validate_session_name",
]

PLACEHOLDER_PRINCIPAL: Final = "arn:aws:iam::<PLATFORM_ACCOUNT_ID>:root"
PLACEHOLDER_ACCOUNT_ID: Final = "<ACCOUNT_ID>"
_PRINCIPAL_RE = re.compile(
    r"arn:(?:aws|aws-cn|aws-us-gov):(?:iam|sts)::[0-9]{12}:[A-Za-z0-9_+=,.@/-]+"
)


def trust_policy(principal_arn: str | None, external_id: str) -> dict[str, Any]:
    """The trust policy to put on the customer's role so the platform can assume it."""
    external_id = validate_external_id(external_id)
    if principal_arn is None:
        principal = PLACEHOLDER_PRINCIPAL
    else:
        principal = principal_arn.strip()
        if not _PRINCIPAL_RE.fullmatch(principal) or ".." in principal:
            raise InvalidValue(
                "The principal must be an IAM ARN such as arn:aws:iam::123456789012:role/Platform."
            )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BedrockConsoleAssumeRole",
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


def permission_policy(
    model: ModelRef, region: str | None, *, streaming: bool = False
) -> dict[str, Any]:
    """A least-privilege permission policy for invoking ``model``.

    ``region`` is used when the model id carries none (base ids, system profile ids); when it
    is None too, ``*`` stands for the region. Inference profiles also need the foundation model
    in every region the profile routes to.
    """
    actions: str | list[str] = "bedrock:InvokeModel"
    if streaming:
        actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    if region is not None and region != "*" and model.region is None:
        region = validate_region(region)
    where = model.region or region or "*"
    if model.partition is not None:
        partition = model.partition
    elif where != "*":
        partition = partition_for_region(where)
    else:
        partition = "aws-us-gov" if model.geo == "us-gov" else "aws"

    if model.kind == "base-model":
        resources = [foundation_model_arn(model.model_id, where, partition)]
    elif model.kind == "system-inference-profile":
        account = model.account or PLACEHOLDER_ACCOUNT_ID
        profile = f"inference-profile/{model.model_id}"
        resources = [f"arn:{partition}:bedrock:{where}:{account}:{profile}"]
    else:
        resources = [model.model_id]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "InvokeModel" if not model.is_profile else "InvokeInferenceProfile",
            "Effect": "Allow",
            "Action": actions,
            "Resource": resources,
        }
    ]
    if model.is_profile and model.geo and model.base_model_id:
        regions = profile_regions(model.geo)
        if "*" not in regions and where != "*" and where not in regions:
            regions.insert(0, where)
        statements.append(
            {
                "Sid": "InvokeProfileModels",
                "Effect": "Allow",
                "Action": actions,
                "Resource": [
                    foundation_model_arn(model.base_model_id, r, partition) for r in regions
                ],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


# ---------------------------------------------------------------------------------------------
# AssumeRole parameters
# ---------------------------------------------------------------------------------------------

_EXTERNAL_ID_RE = re.compile(r"[A-Za-z0-9_+=,.@:/-]+")
_SESSION_RE = re.compile(r"[A-Za-z0-9_+=,.@-]+")
_SESSION_BAD_RE = re.compile(r"[^A-Za-z0-9_+=,.@-]+")


def generate_external_id() -> str:
    """A fresh random external id: 43 URL-safe characters, all accepted by STS."""
    return secrets.token_urlsafe(32)


def validate_external_id(value: str) -> str:
    """2-1224 characters of ``[\\w+=,.@:/-]``. The value is never echoed in messages."""
    if not isinstance(value, str):
        raise InvalidValue("The external ID must be text.")
    value = value.strip()
    if not 2 <= len(value) <= 1224:
        raise InvalidValue(f"The external ID must be 2 to 1224 characters (got {len(value)}).")
    if not _EXTERNAL_ID_RE.fullmatch(value):
        raise InvalidValue(
            "The external ID may only contain letters, digits and _ + = , . @ : / - "
            f"(found {first_bad_char(value, _EXTERNAL_ID_RE)})."
        )
    return value


def validate_session_name(value: str) -> str:
    """An AssumeRole RoleSessionName: 2-64 characters of ``[\\w+=,.@-]``."""
    if not isinstance(value, str):
        raise InvalidValue("The session name must be text.")
    if not 2 <= len(value) <= 64:
        raise InvalidValue(f"The session name must be 2 to 64 characters (got {len(value)}).")
    if not _SESSION_RE.fullmatch(value):
        raise InvalidValue(
            "The session name may only contain letters, digits and _ + = , . @ - "
            f"(found {first_bad_char(value, _SESSION_RE)})."
        )
    return value


def make_session_name(*parts: object) -> str:
    """Join ``parts`` with '-' into a valid RoleSessionName, sanitising and shortening them.

    ``make_session_name("console", "u7", "alice", "i12")`` → ``console-u7-alice-i12``. When the
    result would exceed 64 characters, the longest parts are shortened first so short ids
    (user, integration) survive.
    """
    cleaned: list[str] = []
    for part in parts:
        if part is None:
            continue
        text = _SESSION_BAD_RE.sub("-", str(part))
        text = re.sub(r"-{2,}", "-", text).strip("-")
        if text:
            cleaned.append(text)
    while cleaned and sum(map(len, cleaned)) + len(cleaned) - 1 > 64:
        longest = max(range(len(cleaned)), key=lambda i: len(cleaned[i]))
        shortened = cleaned[longest][:-1].rstrip("-")
        if shortened:
            cleaned[longest] = shortened
        else:
            del cleaned[longest]
    name = "-".join(cleaned)
    if len(name) < 2:
        name = f"{name}-session" if name else "bedrock-console"
    return validate_session_name(name)
