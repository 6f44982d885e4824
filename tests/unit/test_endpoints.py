"""Unit tests for bedrock.endpoints (no database, no Django)."""

from __future__ import annotations

import pytest

from bedrock.arns import parse_model_id
from bedrock.endpoints import (
    Endpoint,
    check_endpoint,
    check_extra_origin,
    default_bedrock_endpoint,
    default_sts_endpoint,
    model_region,
    normalise_sts_url,
    region_mismatch,
    source_region,
)
from bedrock.values import InvalidValue
from tests.unit.helpers import ACCOUNT, ECHO_LIMIT, HAIKU, assert_sentence, message

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
    "https://bedrock-runtime.us-east-1.amazonaws.com, or an origin this console is set up to allow."
)
STS_HOST_MESSAGE = (
    "The host must be an AWS STS endpoint such as https://sts.us-east-1.amazonaws.com, "
    "or an origin this console is set up to allow."
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
        ("http://127.0.0.1:4600", HTTPS),  # and said first: plain http is never accepted
        ("http://evil.example", HTTPS),
        ("http://evil.example", BEDROCK_HOST_MESSAGE),
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
    for origin in ("127.0.0.1:4599", "ftp://mirror.internal"):
        with pytest.raises(InvalidValue) as excinfo:
            check_extra_origin(origin)
        assert message(excinfo) == (
            "Start the extra origin with http:// or https://, e.g. http://127.0.0.1:4599."
        )


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


def test_region_mismatch_geographic_profile_outside_its_geography() -> None:
    us = check_endpoint("https://bedrock-runtime.us-east-1.amazonaws.com", "bedrock-runtime", [])
    eu = check_endpoint("https://bedrock-runtime.eu-west-3.amazonaws.com", "bedrock-runtime", [])
    warning = region_mismatch(parse_model_id(f"eu.{HAIKU}"), us)
    assert warning is not None
    assert warning.startswith("A eu. inference profile is called from a region of its geography")
    assert "the Endpoint is in us-east-1" in warning
    assert warning.endswith("Use https://bedrock-runtime.eu-central-1.amazonaws.com.")
    assert region_mismatch(parse_model_id(f"eu.{HAIKU}"), eu) is None
    assert region_mismatch(parse_model_id(f"us.{HAIKU}"), us) is None
    # A global profile is called from any region.
    assert region_mismatch(parse_model_id(f"global.{HAIKU}"), eu) is None


@pytest.mark.parametrize(
    ("model_id", "home"),
    [
        (f"us.{HAIKU}", "us-east-1"),
        (f"eu.{HAIKU}", "eu-central-1"),
        (f"apac.{HAIKU}", "ap-northeast-1"),
        (f"global.{HAIKU}", None),
        (HAIKU, None),
        (f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{HAIKU}", "eu-west-1"),
        (f"arn:aws:bedrock:us-west-2:{ACCOUNT}:inference-profile/global.{HAIKU}", "us-west-2"),
    ],
)
def test_model_region(model_id: str, home: str | None) -> None:
    assert model_region(parse_model_id(model_id)) == home


@pytest.mark.parametrize(
    ("model_id", "endpoint_region", "expected"),
    [
        (HAIKU, "eu-west-1", "eu-west-1"),
        (HAIKU, None, "us-east-1"),
        (f"us.{HAIKU}", "us-west-2", "us-west-2"),
        (f"us.{HAIKU}", None, "us-east-1"),
        # The default region is outside the geography: its first region.
        (f"eu.{HAIKU}", None, "eu-central-1"),
        (f"eu.{HAIKU}", "us-east-1", "eu-central-1"),
        (f"eu.{HAIKU}", "eu-north-1", "eu-north-1"),
        (f"global.{HAIKU}", "ap-south-1", "ap-south-1"),
        (f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{HAIKU}", None, "eu-west-1"),
    ],
)
def test_source_region(model_id: str, endpoint_region: str | None, expected: str) -> None:
    assert source_region(parse_model_id(model_id), endpoint_region, "us-east-1") == expected


def test_region_mismatch_china_suggestion() -> None:
    model = parse_model_id(f"arn:aws-cn:bedrock:cn-north-1::foundation-model/{HAIKU}")
    other = check_endpoint(
        "https://bedrock-runtime.cn-northwest-1.amazonaws.com.cn", "bedrock-runtime", []
    )
    warning = region_mismatch(model, other)
    assert warning is not None
    assert "https://bedrock-runtime.cn-north-1.amazonaws.com.cn" in warning
