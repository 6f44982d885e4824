"""The endpoints the console may call: AWS host patterns plus the origins of EXTRA_AWS_ENDPOINTS.

Pure Python: no Django, no boto3. The resolved-address guard is applied when a call is made;
this module only judges the URL a user typed. Errors are :class:`bedrock.values.InvalidValue`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl

from bedrock.arns import ModelRef
from bedrock.regions import (
    REGION_PATTERN,
    partition_for_region,
    profile_regions,
    validate_region,
)
from bedrock.values import (
    CONTROL_RE,
    WHITESPACE_RE,
    InvalidValue,
    check_length,
    echo,
    require_text,
)

__all__ = [
    "Endpoint",
    "check_endpoint",
    "check_extra_origin",
    "default_bedrock_endpoint",
    "default_sts_endpoint",
    "is_extra_origin",
    "model_region",
    "normalise_sts_url",
    "region_mismatch",
    "source_region",
]

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
    r = REGION_PATTERN
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
    check_length(value, what)
    if CONTROL_RE.search(value) or WHITESPACE_RE.search(value):
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
            f"Enter the {what} without a path: just https://host (remove {echo(tail, 40)})."
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
            # A malformed EXTRA_AWS_ENDPOINTS entry matches nothing; the start-up system
            # check (integrations.checks) refuses it with check_extra_origin().
            continue
        keys.add((parts.scheme, parts.host, parts.effective_port))
    return keys


def check_extra_origin(origin: str) -> str:
    """Validate one EXTRA_AWS_ENDPOINTS entry and return its normalised origin."""
    origin = require_text(origin, "extra origin", "http://127.0.0.1:4599")
    scheme, sep, _ = origin.partition("://")
    if not sep or scheme.lower() not in _DEFAULT_PORTS:
        raise InvalidValue(
            "Start the extra origin with http:// or https://, e.g. http://127.0.0.1:4599."
        )
    return _split_url(origin, "extra origin").origin


def is_extra_origin(
    scheme: str, host: str, port: int, extra_origins: Iterable[str] | str | None
) -> bool:
    """Whether scheme://host:port is one of the origins allowed besides AWS."""
    return (scheme, host.lower().strip("[]"), port) in {
        (s, h.strip("[]"), p) for s, h, p in _extra_origin_keys(extra_origins)
    }


_HTTPS_REQUIRED = "Use https: the console only calls AWS endpoints over TLS."


def check_endpoint(url: str, service: str, extra_origins: Iterable[str] | None = None) -> Endpoint:
    """Check that ``url`` is an AWS endpoint of ``service`` ("sts" or "bedrock-runtime") or an
    origin listed in ``extra_origins``; return it normalised."""
    if service not in _PATTERNS:
        raise ValueError(f"service must be 'sts' or 'bedrock-runtime', not {service!r}")
    label = "STS endpoint" if service == "sts" else "Bedrock endpoint"
    url = require_text(url, f"{label} URL", f"https://{_example_host(label)}")
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

    # Said to whoever fills the form: no setting's name, which only the operator can change.
    not_allowed = (
        f"The host must be {_SERVICE_LABEL[service]}, or an origin this console is set up to allow."
    )
    # Plain http is refused whatever the host: say so first, then what else is wrong.
    https = f"{_HTTPS_REQUIRED} " if parts.scheme != "https" else ""
    if _looks_like_ip(host, parts.ipv6):
        raise InvalidValue(f"{https}IP addresses are not accepted. {not_allowed}")
    if not _HOST_CHARS_RE.fullmatch(host) or ".." in host:
        raise InvalidValue(
            f"{https}The host name has characters that aren't allowed. {not_allowed}"
        )

    endpoint = _match_aws_host(host, service)
    if endpoint is None:
        raise InvalidValue(https + _wrong_host_message(host, service, not_allowed))
    if parts.scheme != "https":
        raise InvalidValue(_HTTPS_REQUIRED)
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
        rf"bedrock(?:-fips)?\.{REGION_PATTERN}\.(?:amazonaws\.com(?:\.cn)?|api\.aws)", host
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
    value = require_text(value, "STS endpoint URL", "https://sts.us-east-1.amazonaws.com")
    check_length(value, "STS endpoint URL")
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


def model_region(model: ModelRef) -> str | None:
    """The region to call ``model`` in: an ARN's own region; for a geographic inference profile
    id (``us.``, ``eu.``…), the first region of its geography; else None (base ids and
    ``global.`` profiles can be called from any region that offers them)."""
    if model.region is not None:
        return model.region
    if model.kind == "system-inference-profile" and model.geo and model.geo != "global":
        return profile_regions(model.geo)[0]
    return None


def source_region(model: ModelRef, endpoint_region: str | None, default: str) -> str:
    """The region a call to ``model`` starts from: the ARN's, else the Endpoint's, else
    ``default``; a geographic profile id is called from a region of its geography."""
    region = model.region or endpoint_region or default
    home = model_region(model)
    if model.region is None and home is not None and region not in profile_regions(model.geo or ""):
        return home
    return region


def _bedrock_url(region: str) -> str:
    return default_bedrock_endpoint(region, partition_for_region(region))


def region_mismatch(model: ModelRef, endpoint: Endpoint) -> str | None:
    """A warning when the model cannot be called in the endpoint's region: an ARN of another
    region, or a geographic inference profile called from outside its geography."""
    if endpoint.region is None:
        return None
    if model.region is not None:
        if model.region == endpoint.region:
            return None
        return (
            f"The Bedrock ARN is in {model.region} but the Endpoint is in {endpoint.region}: "
            f"Bedrock will not find the model there. Use {_bedrock_url(model.region)} or an "
            f"ARN from {endpoint.region}."
        )
    if model.kind != "system-inference-profile" or not model.geo or model.geo == "global":
        return None
    regions = profile_regions(model.geo)
    if endpoint.region in regions:
        return None
    return (
        f"A {model.geo}. inference profile is called from a region of its geography "
        f"({', '.join(regions)}), but the Endpoint is in {endpoint.region}: Bedrock will not "
        f"find the profile there. Use {_bedrock_url(regions[0])}."
    )
