"""Unit tests for bedrock.rules (no database, no Django)."""

from __future__ import annotations

import re

import pytest

from bedrock.rules import (
    BEDROCK_REQUEST_HEADERS,
    MAX_DEPTH,
    MAX_HEADERS,
    MAX_REQUEST_BYTES,
    InvalidJson,
    TooDeep,
    check_header_count,
    header_value,
    parse_json,
    request_json,
    too_deep,
    unique_header_name,
    validate_header_name,
    validate_header_value,
)
from bedrock.values import InvalidValue
from tests.unit.helpers import assert_sentence, message

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


# ---------------------------------------------------------------------------------------------
# JSON and limits
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": Infinity}', "Infinity is not valid JSON"),
        ('{"a": -Infinity}', "-Infinity is not valid JSON"),
        ('{"a": 1e999}', "1e999 is out of range"),
        ("{nope", "Expecting property name"),
        (b'{"a": "\xff"}', "codec can't decode"),
    ],
)
def test_parse_json_refuses_what_aws_refuses(text: str | bytes, expected: str) -> None:
    with pytest.raises(InvalidJson) as excinfo:
        parse_json(text, "Request JSON")
    assert message(excinfo).startswith("The Request JSON is not valid JSON: ")
    assert expected in message(excinfo)


def test_parse_json_reads_what_aws_reads() -> None:
    assert parse_json('{"a": [1, 2.5, -0.0, 1e-999, null, "NaN"]}', "body") == {
        "a": [1, 2.5, -0.0, 0.0, None, "NaN"]
    }
    assert parse_json(b'{"a": 1}', "body") == {"a": 1}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 2, 5_000, 100_000])
def test_parse_json_refuses_deep_nesting_without_recursing(depth: int) -> None:
    with pytest.raises(TooDeep) as excinfo:
        parse_json("[" * depth + "]" * depth, "file")
    with pytest.raises(TooDeep):
        parse_json('{"a":' * depth + "1" + "}" * depth, "file")
    assert message(excinfo) == f"The file is nested more than {MAX_DEPTH} levels deep."


def test_parse_json_accepts_values_nested_up_to_the_limit() -> None:
    # A value is at depth n when n arrays or objects hold it.
    assert parse_json('{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH, "file")["a"]
    with pytest.raises(TooDeep):
        parse_json('{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), "file")
    assert too_deep({"a": [1]}, 2) is False
    assert too_deep({"a": [1]}, 1) is True


def test_request_json() -> None:
    assert request_json('  {"a": 1}\n') == '{"a": 1}'
    with pytest.raises(InvalidValue, match=re.escape("must be a JSON object ({…})")):
        request_json("[1]")
    with pytest.raises(InvalidValue, match="larger than 1 MB"):
        request_json('{"a": "' + "x" * MAX_REQUEST_BYTES + '"}')
    with pytest.raises(InvalidJson, match="NaN is not valid JSON"):
        request_json('{"a": NaN}')


def test_header_count() -> None:
    check_header_count(MAX_HEADERS)
    with pytest.raises(InvalidValue, match=f"At most {MAX_HEADERS} headers."):
        check_header_count(MAX_HEADERS + 1)


def test_unique_header_name() -> None:
    seen: set[str] = set()
    assert unique_header_name("x-amzn-bedrock-trace", seen) == "X-Amzn-Bedrock-Trace"
    assert unique_header_name("X-Tenant", seen) == "X-Tenant"
    with pytest.raises(
        InvalidValue, match=re.escape("The header X-Amzn-Bedrock-Trace is listed twice.")
    ):
        unique_header_name("X-AMZN-BEDROCK-TRACE", seen)
    with pytest.raises(InvalidValue, match="can't be set"):
        unique_header_name("Authorization", seen)


@pytest.mark.parametrize("value", ["", "   ", "\t \t"])
def test_header_value_must_not_be_blank(value: str) -> None:
    with pytest.raises(InvalidValue, match=re.escape("Enter a value for this header.")):
        header_value(value)
    assert header_value(" acme\t") == "acme"
