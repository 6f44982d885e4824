"""IAM role ARNs and Bedrock model ids and ARNs, parsed from what users type.

Pure Python: no Django, no boto3. botocore itself checks very little (its published modelId
pattern accepts ``../../etc/passwd``), so the rules here are deliberately strict. Errors are
:class:`bedrock.values.InvalidValue` sentences for the form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from bedrock.regions import GEOS, check_partition, partition_for_region, validate_region
from bedrock.values import InvalidValue, check_length, check_plain, echo, require_text

__all__ = [
    "MODEL_KINDS",
    "ModelRef",
    "RoleArn",
    "foundation_model_arn",
    "parse_model_id",
    "parse_role_arn",
]

_ACCOUNT_RE = re.compile(r"[0-9]{12}")


def _check_account(account: str, example: str) -> None:
    if not account:
        raise InvalidValue(f"The account ID is missing: the ARN should look like {example}.")
    if not _ACCOUNT_RE.fullmatch(account):
        if account.isdigit():
            raise InvalidValue(f"The account ID must be 12 digits (got {len(account)}).")
        raise InvalidValue(
            f"The account ID must be 12 digits, without dashes or letters "
            f"(got {echo(account, 20)})."
        )


_ROLE_CHARS_RE = re.compile(r"[A-Za-z0-9_+=,.@-]+")
_ROLE_EXAMPLE = "arn:aws:iam::123456789012:role/BedrockConsoleAccess"
_IAM_RESOURCE_NAMES = {
    "user": "an IAM user",
    "group": "an IAM group",
    "policy": "an IAM policy",
    "instance-profile": "an instance profile",
    "oidc-provider": "an OIDC provider",
    "saml-provider": "a SAML provider",
    "server-certificate": "a server certificate",
    "mfa": "an MFA device",
    "root": "an account root user",
}


@dataclass(frozen=True, slots=True)
class RoleArn:
    """A parsed IAM role ARN."""

    partition: str
    account: str
    path: str  # "/" or "/a/b/"
    name: str
    arn: str

    def __str__(self) -> str:
        return self.arn


def parse_role_arn(value: str) -> RoleArn:
    """Parse ``arn:<partition>:iam::<account>:role/<path/><name>``."""
    value = require_text(value, "role ARN", _ROLE_EXAMPLE)
    check_length(value, "role ARN")
    check_plain(value, "role ARN")
    if not value.startswith("arn:"):
        raise InvalidValue(f"A role ARN starts with arn:, like {_ROLE_EXAMPLE}.")
    parts = value.split(":", 5)
    if len(parts) != 6:
        raise InvalidValue(f"This is not a complete role ARN: it should look like {_ROLE_EXAMPLE}.")
    _, partition, service, region, account, resource = parts
    check_partition(partition)
    if service == "sts" and resource.startswith("assumed-role/"):
        raise InvalidValue(
            "This is the ARN of an assumed-role session (sts); enter the role's own ARN, "
            f"like {_ROLE_EXAMPLE}."
        )
    if service != "iam":
        raise InvalidValue(
            f"A role ARN has the service iam (got {echo(service, 20)}); "
            f"it should look like {_ROLE_EXAMPLE}."
        )
    if region:
        raise InvalidValue(
            f"IAM ARNs have no region: remove {echo(region, 20)} so the ARN reads "
            f"arn:{partition}:iam::ACCOUNT:role/NAME."
        )
    _check_account(account, _ROLE_EXAMPLE)
    resource_type, slash, rest = resource.partition("/")
    if resource_type == "role" and not slash:
        raise InvalidValue("The role name is missing after 'role/'.")
    if resource_type != "role":
        what = _IAM_RESOURCE_NAMES.get(resource_type, f"a {echo(resource_type, 20)} resource")
        raise InvalidValue(
            f"This ARN names {what}, not a role: the console can only assume a role "
            f"(arn:{partition}:iam::ACCOUNT:role/NAME)."
        )
    if ".." in rest:
        raise InvalidValue("The role path and name must not contain '..'.")
    if "//" in rest or rest.startswith("/"):
        raise InvalidValue("The role path has an empty segment ('//'); remove the extra slash.")
    if not rest or rest.endswith("/"):
        raise InvalidValue("The role name is missing after 'role/' and the path.")
    *segments, name = rest.split("/")
    for segment in [*segments, name]:
        if not _ROLE_CHARS_RE.fullmatch(segment):
            raise InvalidValue(
                "Role names and paths may only contain letters, digits and + = , . @ _ -."
            )
    if len(name) > 64:
        raise InvalidValue(f"The role name must be 1 to 64 characters (got {len(name)}).")
    path = "/" + "".join(f"{segment}/" for segment in segments)
    if len(path) > 512:
        raise InvalidValue(f"The role path must be at most 512 characters (got {len(path)}).")
    arn = f"arn:{partition}:iam::{account}:role{path}{name}"
    return RoleArn(partition=partition, account=account, path=path, name=name, arn=arn)


# ---------------------------------------------------------------------------------------------
# Bedrock model ids and ARNs
# ---------------------------------------------------------------------------------------------

MODEL_KINDS: Final[tuple[str, ...]] = (
    "base-model",
    "system-inference-profile",
    "foundation-model",
    "inference-profile",
    "application-inference-profile",
    "provisioned-model",
    "imported-model",
    "custom-model",
    "custom-model-deployment",
    "prompt-router",
    "default-prompt-router",
    "prompt",
)

_MODEL_EXAMPLE = "anthropic.claude-3-haiku-20240307-v1:0"
# The kinds that appear in an ARN's resource part (the first two are model-id forms only).
_ARN_TYPES: Final = tuple(
    kind for kind in MODEL_KINDS if kind not in ("base-model", "system-inference-profile")
)
# provider "." model, e.g. anthropic.claude-3-haiku-20240307-v1:0, amazon.titan-text-express-v1:0:8k
_BASE_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\.[A-Za-z0-9](?:[A-Za-z0-9._:-]*[A-Za-z0-9])?")
_MODEL_CHARS_RE = re.compile(r"[A-Za-z0-9._:-]+")
_SHORT_ID_RE = re.compile(r"[a-z0-9]{12}")
_ROUTER_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]*")
_PROMPT_ID_RE = re.compile(r"[0-9a-zA-Z]{10}(?::[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed Bedrock model identifier.

    ``model_id`` is what to send as InvokeModel's ``modelId``; ``resource`` is the part after
    ``TYPE/`` for ARNs (the id itself for bare ids); ``base_model_id`` is the foundation model
    when it can be known; ``geo`` is the prefix of a system inference profile (``us``, ``eu``…).
    """

    kind: str
    model_id: str
    partition: str | None
    region: str | None
    account: str | None
    resource: str
    base_model_id: str | None
    geo: str | None

    @property
    def is_arn(self) -> bool:
        return self.partition is not None

    @property
    def is_profile(self) -> bool:
        """True for system inference profiles (bare ids or ARNs)."""
        return self.kind in ("system-inference-profile", "inference-profile")


def _split_geo(value: str) -> tuple[str, str] | None:
    """``us.anthropic.x`` → ("us", "anthropic.x"); None when the first label is not a geo."""
    head, dot, tail = value.partition(".")
    if dot and head in GEOS:
        return head, tail
    return None


def _check_base_id(value: str, what: str = "model ID") -> None:
    if not _MODEL_CHARS_RE.fullmatch(value):
        raise InvalidValue(
            f"The {what} may only contain letters, digits and . _ : - (e.g. {_MODEL_EXAMPLE})."
        )
    if not _BASE_ID_RE.fullmatch(value):
        raise InvalidValue(
            f"The {what} should look like provider.model, for example {_MODEL_EXAMPLE} "
            f"(got {echo(value)})."
        )


def parse_model_id(value: str) -> ModelRef:
    """Parse a base model id, a system inference profile id, or a Bedrock model ARN."""
    value = require_text(value, "model ID or ARN", _MODEL_EXAMPLE)
    check_length(value, "model ID or ARN")
    check_plain(value, "model ID")
    if "%" in value:
        raise InvalidValue(
            "The model ID must not contain '%': paste it unencoded (':' rather than '%3A')."
        )
    if "?" in value or "#" in value:
        raise InvalidValue("The model ID must not contain '?' or '#'.")
    if ".." in value:
        raise InvalidValue("The model ID must not contain '..'.")
    if value.startswith("arn:"):
        return _parse_model_arn(value)
    if "/" in value:
        raise InvalidValue(
            "A model ID has no '/': paste the full ARN (arn:aws:bedrock:…) if you meant one."
        )
    geo_split = _split_geo(value)
    if geo_split is not None:
        geo, base = geo_split
        _check_profile_base(geo, base)
        return ModelRef(
            kind="system-inference-profile",
            model_id=value,
            partition=None,
            region=None,
            account=None,
            resource=value,
            base_model_id=base,
            geo=geo,
        )
    _check_base_id(value)
    return ModelRef(
        kind="base-model",
        model_id=value,
        partition=None,
        region=None,
        account=None,
        resource=value,
        base_model_id=value,
        geo=None,
    )


def _check_profile_base(geo: str, base: str) -> None:
    try:
        _check_base_id(base)
    except InvalidValue:
        raise InvalidValue(
            f"A cross-region inference profile ID is the geography followed by a model ID, "
            f"like {geo}.{_MODEL_EXAMPLE}."
        ) from None


def _parse_model_arn(value: str) -> ModelRef:
    example = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.…"
    parts = value.split(":", 5)
    if len(parts) != 6:
        raise InvalidValue(f"This is not a complete Bedrock ARN: it should look like {example}.")
    _, partition, service, region, account, resource = parts
    check_partition(partition)
    if service != "bedrock":
        if service in ("iam", "sts"):
            raise InvalidValue(
                "This is an IAM ARN; the model field needs a Bedrock model ID or ARN "
                f"(e.g. {_MODEL_EXAMPLE})."
            )
        raise InvalidValue(f"The ARN's service must be bedrock (got {echo(service, 30)}).")
    if not region:
        raise InvalidValue(
            "The region is missing from the ARN (it should read arn:aws:bedrock:us-east-1:…)."
        )
    validate_region(region)
    expected_partition = partition_for_region(region)
    if expected_partition != partition:
        raise InvalidValue(
            f"The region {region} belongs to the {expected_partition} partition, "
            f"so the ARN should start with arn:{expected_partition}:bedrock."
        )
    resource_type, slash, rest = resource.partition("/")
    if resource_type not in _ARN_TYPES or not slash:
        raise InvalidValue(
            f"Unknown Bedrock resource type {echo(resource_type, 40)}: use a foundation-model, "
            "inference-profile, application-inference-profile, provisioned-model, "
            "imported-model, custom-model, custom-model-deployment, prompt-router or prompt ARN."
        )
    if not rest:
        raise InvalidValue(f"The ARN ends after '{resource_type}/': the ID is missing.")
    if resource_type == "foundation-model":
        if account:
            raise InvalidValue(
                "A foundation-model ARN has an empty account field "
                f"(arn:{partition}:bedrock:{region}::foundation-model/…): remove the account ID."
            )
    else:
        _check_account(account, f"arn:{partition}:bedrock:{region}:123456789012:{resource_type}/…")
    if "/" in rest and resource_type != "custom-model":
        raise InvalidValue(f"A {resource_type} ARN has no further '/' after '{resource_type}/'.")

    kind: str = resource_type
    base: str | None = None
    geo: str | None = None
    if resource_type == "foundation-model":
        split = _split_geo(rest)
        if split is not None:
            raise InvalidValue(
                f"The prefix '{split[0]}.' marks a cross-region inference profile: use an "
                "inference-profile ARN or the profile ID alone."
            )
        _check_base_id(rest)
        base = rest
    elif resource_type == "inference-profile":
        split = _split_geo(rest)
        if split is None:
            raise InvalidValue(
                "An inference-profile ARN ends in a system profile ID that starts with a "
                f"geography ({', '.join(g + '.' for g in GEOS)}), "
                f"e.g. inference-profile/us.{_MODEL_EXAMPLE}."
            )
        geo, base = split
        _check_profile_base(geo, base)
    elif resource_type in (
        "application-inference-profile",
        "provisioned-model",
        "imported-model",
        "custom-model-deployment",
    ):
        if not _SHORT_ID_RE.fullmatch(rest):
            raise InvalidValue(
                f"A {resource_type} ID is 12 lower-case letters and digits (got {echo(rest, 40)})."
            )
    elif resource_type == "custom-model":
        base_part, slash2, model_part = rest.partition("/")
        if not slash2 or "/" in model_part:
            raise InvalidValue(
                "A custom-model ARN ends in custom-model/BASE_MODEL/ID, e.g. "
                "custom-model/amazon.titan-text-express-v1:0:8k/abcdef123456."
            )
        if base_part != "imported":
            _check_base_id(base_part, "base model in the custom-model ARN")
            base = base_part
        if not _SHORT_ID_RE.fullmatch(model_part):
            raise InvalidValue(
                "A custom model ID is 12 lower-case letters and digits "
                f"(got {echo(model_part, 40)})."
            )
    elif resource_type in ("prompt-router", "default-prompt-router"):
        if not _ROUTER_ID_RE.fullmatch(rest):
            raise InvalidValue(
                "A prompt router ID may only contain letters, digits and . : - characters."
            )
    elif resource_type == "prompt" and not _PROMPT_ID_RE.fullmatch(rest):
        raise InvalidValue(
            "A prompt ARN ends in prompt/ID or prompt/ID:VERSION, where the ID is 10 letters "
            "or digits."
        )
    return ModelRef(
        kind=kind,
        model_id=value,
        partition=partition,
        region=region,
        account=account or None,
        resource=rest,
        base_model_id=base,
        geo=geo,
    )


def foundation_model_arn(model_id: str, region: str, partition: str = "aws") -> str:
    """``arn:P:bedrock:REGION::foundation-model/ID`` (region may be ``*`` for policies, or empty:
    the region-less ARN a ``global.`` profile's routing is authorized against)."""
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"
