"""What the unit tests of the bedrock rules share: sample values and message checks."""

from __future__ import annotations

import pytest

from bedrock.values import InvalidValue

ACCOUNT = "123456789012"
ECHO_LIMIT = 80
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def message(excinfo: pytest.ExceptionInfo[InvalidValue]) -> str:
    return str(excinfo.value)


def assert_sentence(text: str) -> None:
    assert text[:1].isupper(), text
    assert text.rstrip().endswith((".", ")")), text
