"""Validation of the AWS identifiers the console accepts from users.

Pure Python: no Django, no boto3. Everything a user types (role ARNs, Bedrock model ids and
ARNs, endpoint URLs, external ids, extra HTTP headers) goes through one of the functions below
before it reaches botocore. botocore itself checks very little (its published modelId pattern
accepts ``../../etc/passwd``), so the rules here are deliberately strict.

Every validation error is an :class:`InvalidValue` whose ``str()`` is a sentence that can be
shown next to a form field. Messages never echo more than a short, sanitised excerpt of the
input, and never echo values that may be secret (header values, external ids).
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

__all__ = [
    "BEDROCK_REQUEST_HEADERS",
    "GEOS",
    "MODEL_KINDS",
    "PARTITIONS",
    "PLACEHOLDER_ACCOUNT_ID",
    "PLACEHOLDER_PRINCIPAL",
    "Endpoint",
    "InvalidValue",
    "ModelRef",
    "RoleArn",
    "check_endpoint",
    "check_extra_origin",
    "default_bedrock_endpoint",
    "default_sts_endpoint",
    "foundation_model_arn",
    "generate_external_id",
    "make_session_name",
    "normalise_sts_url",
    "parse_model_id",
    "parse_role_arn",
    "partition_for_region",
    "permission_policy",
    "profile_regions",
    "region_mismatch",
    "trust_policy",
    "validate_external_id",
    "validate_header_name",
    "validate_header_value",
    "validate_region",
    "validate_session_name",
]


class InvalidValue(ValueError):
    """A user-supplied value is not acceptable; ``str(exc)`` is a sentence for the form."""


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------

PARTITIONS: Final = ("aws", "aws-cn", "aws-us-gov")

_ARN_MAX = 2048
_ECHO_MAX = 60

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_WHITESPACE_RE = re.compile(r"\s")
_ACCOUNT_RE = re.compile(r"[0-9]{12}")
# The *form* of a region name: us-east-1, eu-central-2, us-gov-west-1, cn-north-1. Partitions
# such as aws-iso (us-iso-east-1) are not supported and do not match.
_REGION_PATTERN = r"[a-z]{2}(?:-gov)?-[a-z]+-[0-9]{1,2}"
_REGION_RE = re.compile(_REGION_PATTERN)


def _echo(value: str, limit: int = _ECHO_MAX) -> str:
    """A short, printable, quoted excerpt of ``value`` for an error message."""
    clipped = value if len(value) <= limit else value[: limit - 1] + "…"
    printable = _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", clipped)
    return f"'{printable}'"


def _require_text(value: object, what: str, example: str) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidValue(f"The {what} must be text.")
    value = value.strip()
    if not value:
        raise InvalidValue(f"Enter the {what}, for example {example}.")
    return value


def _check_plain(value: str, what: str) -> None:
    """Refuse control characters and inner whitespace (both are always mistakes or attacks)."""
    if _WHITESPACE_RE.search(value):
        raise InvalidValue(f"The {what} must not contain spaces or line breaks.")
    if _CONTROL_RE.search(value):
        raise InvalidValue(f"The {what} contains a control character; retype it by hand.")


def _check_length(value: str, what: str, maximum: int = _ARN_MAX) -> None:
    if len(value) > maximum:
        raise InvalidValue(
            f"The {what} is too long: at most {maximum} characters (got {len(value)})."
        )


def _check_partition(partition: str) -> None:
    if partition not in PARTITIONS:
        raise InvalidValue(
            f"The partition must be aws, aws-cn or aws-us-gov (got {_echo(partition, 20)})."
        )


def _check_account(account: str, example: str) -> None:
    if not account:
        raise InvalidValue(f"The account ID is missing: the ARN should look like {example}.")
    if not _ACCOUNT_RE.fullmatch(account):
        if account.isdigit():
            raise InvalidValue(f"The account ID must be 12 digits (got {len(account)}).")
        raise InvalidValue(
            f"The account ID must be 12 digits, without dashes or letters "
            f"(got {_echo(account, 20)})."
        )


def partition_for_region(region: str) -> str:
    """The partition a region belongs to (``cn-*`` → aws-cn, ``us-gov-*`` → aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def validate_region(region: str, partition: str | None = None) -> str:
    """Check the form of a region name and, if given, that it belongs to ``partition``."""
    region = _require_text(region, "region", "us-east-1")
    if not _REGION_RE.fullmatch(region):
        raise InvalidValue(
            f"The region must look like us-east-1, eu-west-3 or us-gov-west-1 "
            f"(got {_echo(region, 30)})."
        )
    if partition is not None:
        _check_partition(partition)
        expected = partition_for_region(region)
        if expected != partition:
            raise InvalidValue(
                f"The region {region} belongs to the {expected} partition, not {partition}."
            )
    return region


# ---------------------------------------------------------------------------------------------
# IAM role ARNs
# ---------------------------------------------------------------------------------------------

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
    value = _require_text(value, "role ARN", _ROLE_EXAMPLE)
    _check_length(value, "role ARN")
    _check_plain(value, "role ARN")
    if not value.startswith("arn:"):
        raise InvalidValue(f"A role ARN starts with arn:, like {_ROLE_EXAMPLE}.")
    parts = value.split(":", 5)
    if len(parts) != 6:
        raise InvalidValue(f"This is not a complete role ARN: it should look like {_ROLE_EXAMPLE}.")
    _, partition, service, region, account, resource = parts
    _check_partition(partition)
    if service == "sts" and resource.startswith("assumed-role/"):
        raise InvalidValue(
            "This is the ARN of an assumed-role session (sts); enter the role's own ARN, "
            f"like {_ROLE_EXAMPLE}."
        )
    if service != "iam":
        raise InvalidValue(
            f"A role ARN has the service iam (got {_echo(service, 20)}); "
            f"it should look like {_ROLE_EXAMPLE}."
        )
    if region:
        raise InvalidValue(
            f"IAM ARNs have no region: remove {_echo(region, 20)} so the ARN reads "
            f"arn:{partition}:iam::ACCOUNT:role/NAME."
        )
    _check_account(account, _ROLE_EXAMPLE)
    resource_type, slash, rest = resource.partition("/")
    if resource_type == "role" and not slash:
        raise InvalidValue("The role name is missing after 'role/'.")
    if resource_type != "role":
        what = _IAM_RESOURCE_NAMES.get(resource_type, f"a {_echo(resource_type, 20)} resource")
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
# Geographic prefixes of system-defined (cross-region) inference profiles.
GEOS: Final = ("us", "eu", "apac", "jp", "au", "ca", "us-gov", "global")

_MODEL_EXAMPLE = "anthropic.claude-3-haiku-20240307-v1:0"
_ARN_TYPES: Final = (
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
            f"(got {_echo(value)})."
        )


def parse_model_id(value: str) -> ModelRef:
    """Parse a base model id, a system inference profile id, or a Bedrock model ARN."""
    value = _require_text(value, "model ID or ARN", _MODEL_EXAMPLE)
    _check_length(value, "model ID or ARN")
    _check_plain(value, "model ID")
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
    _check_partition(partition)
    if service != "bedrock":
        if service in ("iam", "sts"):
            raise InvalidValue(
                "This is an IAM ARN; the model field needs a Bedrock model ID or ARN "
                f"(e.g. {_MODEL_EXAMPLE})."
            )
        raise InvalidValue(f"The ARN's service must be bedrock (got {_echo(service, 30)}).")
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
            f"Unknown Bedrock resource type {_echo(resource_type, 40)}: use a foundation-model, "
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
                f"A {resource_type} ID is 12 lower-case letters and digits (got {_echo(rest, 40)})."
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
                f"(got {_echo(model_part, 40)})."
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
    """``arn:P:bedrock:REGION::foundation-model/ID`` (region may be ``*`` for policies)."""
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"


# ---------------------------------------------------------------------------------------------
# Endpoints
# ---------------------------------------------------------------------------------------------

_SERVICE_LABEL = {
    "sts": "an AWS STS endpoint such as https://sts.us-east-1.amazonaws.com",
    "bedrock-runtime": (
        "an Amazon Bedrock Runtime endpoint such as https://bedrock-runtime.us-east-1.amazonaws.com"
    ),
}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_CHARS_RE = re.compile(r"[a-z0-9.-]+")
_NUMERIC_LABEL_RE = re.compile(r"0x[0-9a-f]*|[0-9]+")
_VPCE_PREFIX = r"vpce-[0-9a-f]{8,17}-[a-z0-9]{8}"


def _host_patterns(service: str) -> list[re.Pattern[str]]:
    s = re.escape(service)
    r = _REGION_PATTERN
    return [
        re.compile(rf"{s}(?P<fips>-fips)?\.(?P<region>{r})\.amazonaws\.com"),
        re.compile(rf"{s}\.(?P<region>{r})\.amazonaws\.com(?P<cn>\.cn)"),
        re.compile(rf"{s}(?P<fips>-fips)?\.(?P<region>{r})\.(?P<dualstack>api\.aws)"),
        re.compile(
            rf"(?P<vpce>{_VPCE_PREFIX})(?:-(?P<az>{r}[a-z]))?\.{s}\.(?P<region>{r})"
            rf"\.vpce\.amazonaws\.com(?P<cn>\.cn)?"
        ),
    ]


_PATTERNS: Final = {service: _host_patterns(service) for service in ("sts", "bedrock-runtime")}
_STS_GLOBAL_HOST = "sts.amazonaws.com"
_STS_GLOBAL_NOTE = (
    "sts.amazonaws.com is the legacy global STS endpoint: requests are signed for us-east-1. "
    "Prefer the regional endpoint next to the console, e.g. https://sts.us-east-1.amazonaws.com."
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A checked endpoint. ``url`` equals ``origin``: scheme://host[:port], no trailing slash."""

    url: str
    origin: str
    host: str
    region: str | None
    partition: str | None
    fips: bool
    dualstack: bool
    vpce: bool
    extra: bool
    note: str | None = None  # e.g. the legacy global STS endpoint is treated as us-east-1


@dataclass(frozen=True, slots=True)
class _UrlParts:
    scheme: str
    host: str  # lower-case, without brackets for IPv6
    port: int | None
    ipv6: bool

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else _DEFAULT_PORTS[self.scheme]

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if self.ipv6 else self.host
        if self.port is None or self.port == _DEFAULT_PORTS[self.scheme]:
            return f"{self.scheme}://{host}"
        return f"{self.scheme}://{host}:{self.port}"


def _split_url(value: str, what: str) -> _UrlParts:
    """Split an origin-style URL and refuse everything that is not scheme://host[:port][/]."""
    _check_length(value, what)
    if _CONTROL_RE.search(value) or _WHITESPACE_RE.search(value):
        raise InvalidValue(
            f"The {what} must not contain spaces, line breaks or control characters."
        )
    if "\\" in value:
        raise InvalidValue(f"The {what} must not contain backslashes.")
    scheme, sep, rest = value.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise InvalidValue(f"Start the {what} with https://, e.g. https://{_example_host(what)}.")
    if scheme not in _DEFAULT_PORTS:
        raise InvalidValue(f"Use https: the {what} must start with https://.")
    # The authority ends at the first '/', '?' or '#'.
    match = re.match(r"[^/?#]*", rest)
    netloc = match.group() if match else ""
    tail = rest[len(netloc) :]
    if "@" in netloc:
        raise InvalidValue("Remove the user name/password part (…@) from the URL.")
    if "#" in tail:
        raise InvalidValue(f"Remove the '#…' fragment from the {what}.")
    if "?" in tail:
        raise InvalidValue(f"Remove the query string ('?…') from the {what}: enter the host alone.")
    if tail not in ("", "/"):
        raise InvalidValue(
            f"Enter the {what} without a path: just https://host (remove {_echo(tail, 40)})."
        )
    if "%" in netloc:
        raise InvalidValue(f"The host in the {what} must not be percent-encoded.")
    if not netloc.isascii():
        raise InvalidValue(
            f"The host in the {what} must be plain ASCII (no look-alike or full-width characters)."
        )
    netloc = netloc.lower()
    ipv6 = False
    port_text: str | None = None
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise InvalidValue(f"The {what} has an unterminated IPv6 address.")
        host = netloc[1:end]
        after = netloc[end + 1 :]
        if after:
            if not after.startswith(":"):
                raise InvalidValue(f"The {what} is not a valid URL.")
            port_text = after[1:]
        ipv6 = True
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise InvalidValue(f"The {what} has an invalid IPv6 address.") from None
    else:
        host, colon, port_part = netloc.partition(":")
        if colon:
            port_text = port_part
    if not host:
        raise InvalidValue(f"The {what} has no host name.")
    port: int | None = None
    if port_text is not None:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535 or len(port_text) > 5:
            raise InvalidValue("The port must be a number from 1 to 65535.")
        port = int(port_text)
    return _UrlParts(scheme=scheme, host=host, port=port, ipv6=ipv6)


def _example_host(what: str) -> str:
    return (
        "sts.us-east-1.amazonaws.com"
        if "STS" in what
        else "bedrock-runtime.us-east-1.amazonaws.com"
    )


def _looks_like_ip(host: str, ipv6: bool) -> bool:
    if ipv6:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    # inet_aton accepts decimal (2130706433), hex (0x7f000001), octal and short (127.1) forms.
    labels = host.rstrip(".").split(".")
    return all(_NUMERIC_LABEL_RE.fullmatch(label) for label in labels)


def _extra_origin_keys(extra_origins: Iterable[str] | str | None) -> set[tuple[str, str, int]]:
    if isinstance(extra_origins, str):
        extra_origins = [extra_origins]
    keys: set[tuple[str, str, int]] = set()
    for origin in extra_origins or ():
        if not isinstance(origin, str) or not origin.strip():
            continue
        try:
            parts = _split_url(origin.strip(), "extra origin")
        except InvalidValue:
            # A malformed EXTRA_AWS_ENDPOINTS entry simply matches nothing; validate the
            # setting at start-up with check_extra_origin() to catch it early.
            continue
        keys.add((parts.scheme, parts.host, parts.effective_port))
    return keys


def check_extra_origin(origin: str) -> str:
    """Validate one EXTRA_AWS_ENDPOINTS entry and return its normalised origin."""
    origin = _require_text(origin, "extra origin", "http://127.0.0.1:4599")
    return _split_url(origin, "extra origin").origin


def is_extra_origin(
    scheme: str, host: str, port: int, extra_origins: Iterable[str] | str | None
) -> bool:
    """Whether scheme://host:port is one of the origins allowed besides AWS."""
    return (scheme, host.lower().strip("[]"), port) in {
        (s, h.strip("[]"), p) for s, h, p in _extra_origin_keys(extra_origins)
    }


def check_endpoint(url: str, service: str, extra_origins: Iterable[str] | None = None) -> Endpoint:
    """Check that ``url`` is an AWS endpoint of ``service`` ("sts" or "bedrock-runtime") or an
    origin listed in ``extra_origins``; return it normalised."""
    if service not in _PATTERNS:
        raise ValueError(f"service must be 'sts' or 'bedrock-runtime', not {service!r}")
    label = "STS endpoint" if service == "sts" else "Bedrock endpoint"
    url = _require_text(url, f"{label} URL", f"https://{_example_host(label)}")
    parts = _split_url(url, f"{label} URL")
    host = parts.host
    if host.endswith("."):
        raise InvalidValue("Remove the trailing dot after the host name.")

    if (parts.scheme, host, parts.effective_port) in _extra_origin_keys(extra_origins):
        return Endpoint(
            url=parts.origin,
            origin=parts.origin,
            host=host,
            region=None,
            partition=None,
            fips=False,
            dualstack=False,
            vpce=False,
            extra=True,
        )

    not_allowed = (
        f"The host must be {_SERVICE_LABEL[service]}, or an origin allowed by EXTRA_AWS_ENDPOINTS."
    )
    if _looks_like_ip(host, parts.ipv6):
        raise InvalidValue(f"IP addresses are not accepted. {not_allowed}")
    if not _HOST_CHARS_RE.fullmatch(host) or ".." in host:
        raise InvalidValue(f"The host name has characters that aren't allowed. {not_allowed}")

    endpoint = _match_aws_host(host, service)
    if endpoint is None:
        raise InvalidValue(_wrong_host_message(host, service, not_allowed))
    if parts.scheme != "https":
        raise InvalidValue("Use https: the console only calls AWS endpoints over TLS.")
    if parts.port is not None and parts.port != 443:
        raise InvalidValue(
            f"AWS endpoints use the standard https port: remove ':{parts.port}' "
            "(only :443 or no port is accepted)."
        )
    return endpoint


def _match_aws_host(host: str, service: str) -> Endpoint | None:
    origin = f"https://{host}"
    if service == "sts" and host == _STS_GLOBAL_HOST:
        return Endpoint(
            url=origin,
            origin=origin,
            host=host,
            region="us-east-1",
            partition="aws",
            fips=False,
            dualstack=False,
            vpce=False,
            extra=False,
            note=_STS_GLOBAL_NOTE,
        )
    for pattern in _PATTERNS[service]:
        match = pattern.fullmatch(host)
        if match is None:
            continue
        groups = match.groupdict()
        region = groups["region"]
        partition = partition_for_region(region)
        china_suffix = bool(groups.get("cn"))
        if (partition == "aws-cn") != china_suffix:
            raise InvalidValue(
                f"The region {region} is in the aws-cn partition: its endpoints end in "
                ".amazonaws.com.cn."
                if partition == "aws-cn"
                else f"Only China regions (cn-…) use .amazonaws.com.cn hosts, not {region}."
            )
        az = groups.get("az")
        if az and not az.startswith(region):
            raise InvalidValue(
                f"The zonal VPC endpoint names zone {az}, which is not in region {region}."
            )
        return Endpoint(
            url=origin,
            origin=origin,
            host=host,
            region=region,
            partition=partition,
            fips=bool(groups.get("fips")),
            dualstack=bool(groups.get("dualstack")),
            vpce=bool(groups.get("vpce")),
            extra=False,
        )
    return None


def _wrong_host_message(host: str, service: str, not_allowed: str) -> str:
    other = "bedrock-runtime" if service == "sts" else "sts"
    for pattern in _PATTERNS[other]:
        if pattern.fullmatch(host):
            if service == "sts":
                return f"This is a Bedrock Runtime host, not STS. {not_allowed}"
            return f"This is an STS host, not Bedrock Runtime. {not_allowed}"
    if service == "bedrock-runtime" and host == _STS_GLOBAL_HOST:
        return f"This is an STS host, not Bedrock Runtime. {not_allowed}"
    if service == "bedrock-runtime" and re.fullmatch(
        rf"bedrock(?:-fips)?\.{_REGION_PATTERN}\.(?:amazonaws\.com(?:\.cn)?|api\.aws)", host
    ):
        return (
            "This is the Bedrock control-plane host; model invocations go to bedrock-runtime.…, "
            "e.g. https://bedrock-runtime.us-east-1.amazonaws.com."
        )
    return not_allowed


_STS_API_QUERY_ACTIONS = frozenset({"assumerole"})


def normalise_sts_url(value: str) -> str:
    """Reduce a pasted STS API URL (``https://sts…/?Action=AssumeRole&RoleArn=…``) to
    ``scheme://host[:port]``. Any other query, a fragment or a path is an error; user-info is
    kept so that :func:`check_endpoint` refuses it."""
    value = _require_text(value, "STS endpoint URL", "https://sts.us-east-1.amazonaws.com")
    _check_length(value, "STS endpoint URL")
    head, qmark, query = value.partition("?")
    if "#" in head or "#" in query:
        raise InvalidValue("Remove the '#…' fragment from the STS endpoint URL.")
    if qmark and query:
        params = parse_qsl(query, keep_blank_values=True)
        actions = [v for k, v in params if k.lower() == "action"]
        if len(actions) != 1 or actions[0].lower() not in _STS_API_QUERY_ACTIONS:
            raise InvalidValue(
                "The STS API is the endpoint alone (like https://sts.us-east-1.amazonaws.com): "
                "remove the '?…' part."
            )
    scheme, sep, rest = head.partition("://")
    if not sep:
        return head  # check_endpoint explains the missing scheme
    netloc, slash, path = rest.partition("/")
    if slash and path:
        raise InvalidValue(
            "The STS API is the endpoint alone (like https://sts.us-east-1.amazonaws.com): "
            "remove the path after the host."
        )
    return f"{scheme}://{netloc}"


def default_bedrock_endpoint(region: str, partition: str = "aws") -> str:
    """``https://bedrock-runtime.{region}.amazonaws.com`` (``.amazonaws.com.cn`` in China)."""
    region = validate_region(region, partition)
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://bedrock-runtime.{region}.{suffix}"


def default_sts_endpoint(region: str, partition: str = "aws") -> str:
    """``https://sts.{region}.amazonaws.com`` (``.amazonaws.com.cn`` in China)."""
    region = validate_region(region, partition)
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sts.{region}.{suffix}"


def region_mismatch(model: ModelRef, endpoint: Endpoint) -> str | None:
    """A warning when the model ARN's region differs from the endpoint's region."""
    if model.region is None or endpoint.region is None or model.region == endpoint.region:
        return None
    suggestion = f"https://bedrock-runtime.{model.region}.amazonaws.com"
    if model.partition == "aws-cn":
        suggestion += ".cn"
    return (
        f"The Bedrock ARN is in {model.region} but the Endpoint is in {endpoint.region}: "
        f"Bedrock will not find the model there. Use {suggestion} or an ARN from "
        f"{endpoint.region}."
    )


# AWS adds destination regions to system inference profiles over time: treat these lists as a
# starting point (they were right when written), and prefer GetInferenceProfile when the
# console can call the Bedrock control plane.
_PROFILE_REGIONS: Final[dict[str, tuple[str, ...]]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1", "eu-south-1", "eu-south-2"),
    "apac": (
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-4",
    ),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "ca": ("ca-central-1", "ca-west-1"),
    "us-gov": ("us-gov-west-1", "us-gov-east-1"),
    "global": ("*",),
}


def profile_regions(geo: str) -> list[str]:
    """The regions a system inference profile with prefix ``geo`` routes to (``["*"]`` for
    global). Not exhaustive: AWS can add regions."""
    try:
        return list(_PROFILE_REGIONS[geo])
    except KeyError:
        raise InvalidValue(
            f"Unknown inference profile geography {_echo(str(geo), 20)}: "
            f"expected one of {', '.join(GEOS)}."
        ) from None


# ---------------------------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------------------------

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


def _first_bad_char(value: str, allowed: re.Pattern[str]) -> str:
    for char in value:
        if not allowed.fullmatch(char):
            if char == " ":
                return "a space"
            if not char.isprintable():
                return f"the control character U+{ord(char):04X}"
            return f"'{char}'"
    return "an invalid character"


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
            f"(found {_first_bad_char(value, _EXTERNAL_ID_RE)})."
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
            f"(found {_first_bad_char(value, _SESSION_RE)})."
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


# ---------------------------------------------------------------------------------------------
# Extra HTTP headers
# ---------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Bedrock InvokeModel request headers a user may set (canonical spelling).
BEDROCK_REQUEST_HEADERS: Final = (
    "X-Amzn-Bedrock-Trace",
    "X-Amzn-Bedrock-GuardrailIdentifier",
    "X-Amzn-Bedrock-GuardrailVersion",
    "X-Amzn-Bedrock-PerformanceConfig-Latency",
    "X-Amzn-Bedrock-Service-Tier",
)
_BEDROCK_HEADERS_BY_LOWER = {name.lower(): name for name in BEDROCK_REQUEST_HEADERS}
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "upgrade", "te", "trailer", "transfer-encoding"}
)
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie"})
_CLIENT_HEADERS = frozenset(
    {"host", "content-length", "content-type", "content-encoding", "expect", "accept-encoding"}
)


def validate_header_name(name: str) -> str:
    """An extra request header name: an RFC 9110 token of 1-100 characters that the HTTP
    client, the proxy layer and SigV4 signing do not own."""
    if not isinstance(name, str):
        raise InvalidValue("The header name must be text.")
    name = name.strip()
    if not name:
        raise InvalidValue("Enter a header name, for example X-Amzn-Bedrock-Trace.")
    if len(name) > 100:
        raise InvalidValue(f"The header name must be at most 100 characters (got {len(name)}).")
    if not _TOKEN_RE.fullmatch(name):
        raise InvalidValue(
            "A header name may only contain letters, digits and ! # $ % & ' * + - . ^ _ ` | ~ "
            f"(found {_first_bad_char(name, _TOKEN_RE)})."
        )
    lower = name.lower()
    header = f"The header {_echo(name, 40)}"
    if lower in _CREDENTIAL_HEADERS:
        raise InvalidValue(
            f"{header} can't be set: the console signs each request with the assumed "
            "role's credentials."
        )
    if lower in _HOP_BY_HOP or lower.startswith("proxy-"):
        raise InvalidValue(
            f"{header} is a hop-by-hop or proxy header and can't be set on a Bedrock request."
        )
    if lower in _CLIENT_HEADERS:
        raise InvalidValue(
            f"{header} is set by the HTTP client from the request itself and can't be overridden."
        )
    if lower in _BEDROCK_HEADERS_BY_LOWER:
        return _BEDROCK_HEADERS_BY_LOWER[lower]
    if lower.startswith("x-amz-"):
        raise InvalidValue(f"{header} can't be set: X-Amz-* headers belong to AWS request signing.")
    if lower.startswith("x-amzn-"):
        raise InvalidValue(
            f"{header} can't be set: the only X-Amzn-* headers allowed are the Bedrock ones "
            f"({', '.join(BEDROCK_REQUEST_HEADERS)})."
        )
    return name


def validate_header_value(value: str) -> str:
    """A header value: printable ASCII and tabs, at most 4096 characters. The value is never
    included in the message (it may be a secret). Surrounding spaces and tabs are removed."""
    if not isinstance(value, str):
        raise InvalidValue("The header value must be text.")
    if len(value) > 4096:
        raise InvalidValue(f"The header value must be at most 4096 characters (got {len(value)}).")
    if "\r" in value or "\n" in value:
        raise InvalidValue("The header value must be a single line (no line breaks).")
    if "\x00" in value:
        raise InvalidValue("The header value contains a NUL character.")
    for char in value:
        if char != "\t" and (ord(char) < 0x20 or ord(char) == 0x7F):
            raise InvalidValue(
                f"The header value contains a control character (U+{ord(char):04X})."
            )
        if not char.isascii():
            raise InvalidValue(
                "The header value must be plain ASCII (found a non-ASCII character)."
            )
    return value.strip(" \t")
