"""Unit tests for bedrock.rules (no database, no Django)."""

from __future__ import annotations

import pytest

from bedrock.rules import BEDROCK_REQUEST_HEADERS, validate_header_name, validate_header_value
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
