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
    model: ModelRef,
    region: str | None,
    *,
    streaming: bool = False,
    account: str | None = None,
) -> dict[str, Any]:
    """A least-privilege permission policy for invoking ``model``, in the shapes AWS documents.

    ``region`` is the source region (the Endpoint's), used when the model id carries none (base
    ids, system profile ids); when it is None too, ``*`` stands for it. ``account`` is the
    role's account, for a profile id's ARN (an ARN's own account wins; unknown: a placeholder).

    A geographic profile (``us.``, ``eu.``…) needs the profile in the source region and the
    foundation model in every region it routes to, those only through the profile (condition
    on ``bedrock:InferenceProfileArn``). A ``global.`` profile routes to any commercial region:
    the profile and the model in the source region, and the region-less foundation-model ARN
    (``arn:aws:bedrock:::foundation-model/ID``) that AWS authorizes with ``aws:RequestedRegion``
    ``unspecified``.
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

    def allow(
        sid: str, resources: list[str], condition: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Action": actions,
            "Resource": resources,
        }
        if condition:
            statement["Condition"] = condition
        return statement

    if model.kind == "base-model":
        resources = [foundation_model_arn(model.model_id, where, partition)]
        return _policy(allow("InvokeModel", resources))
    if not (model.is_profile and model.geo and model.base_model_id):
        return _policy(allow("InvokeModel", [model.model_id]))

    base = model.base_model_id
    if model.is_arn:
        profile_arn = model.model_id
    else:
        owner = model.account or account or PLACEHOLDER_ACCOUNT_ID
        profile_arn = f"arn:{partition}:bedrock:{where}:{owner}:inference-profile/{model.model_id}"
    # StringEquals when the ARN is exact, ArnLike when the region is still a wildcard.
    through = {("ArnLike" if "*" in profile_arn else "StringEquals"): _via(profile_arn)}
    if model.geo == "global":
        in_region = {"aws:RequestedRegion": where} if where != "*" else {}
        return _policy(
            allow(
                "GrantGlobalCrisProfileAccess",
                [profile_arn],
                {"StringEquals": in_region} if in_region else None,
            ),
            allow(
                "GrantGlobalCrisSourceModelAccess",
                [foundation_model_arn(base, where, partition)],
                _merge(through, {"StringEquals": in_region}),
            ),
            allow(
                "GrantGlobalCrisGlobalModelAccess",
                [foundation_model_arn(base, "", partition)],
                _merge(through, {"StringEquals": {"aws:RequestedRegion": "unspecified"}}),
            ),
        )
    regions = profile_regions(model.geo)
    if where != "*" and where not in regions:
        regions.insert(0, where)
    return _policy(
        allow("GrantGeoCrisInferenceProfileAccess", [profile_arn]),
        allow(
            "GrantGeoCrisModelAccess",
            [foundation_model_arn(base, r, partition) for r in regions],
            through,
        ),
    )


def _via(profile_arn: str) -> dict[str, str]:
    return {"bedrock:InferenceProfileArn": profile_arn}


def _merge(*conditions: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for condition in conditions:
        for operator, values in condition.items():
            if values:
                merged.setdefault(operator, {}).update(values)
    return merged


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


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
