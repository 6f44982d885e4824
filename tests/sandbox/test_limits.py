"""Every family honours its own max-tokens and stop-sequence fields in InvokeModel."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .families import FAMILIES, Family
from .helpers import invoke_json

REPLY = "Hello from the Bedrock sandbox. You said: "


@pytest.mark.parametrize("family", FAMILIES, ids=str)
def test_a_generous_limit_gives_the_whole_answer(bedrock: Any, family: Family) -> None:
    headers, answer = invoke_json(bedrock, family.model_id, family.body("one two", 256, []))
    assert family.text(answer) == REPLY + "one two"
    assert family.stop(answer) == family.stop_names[0]
    assert headers["x-amzn-bedrock-output-token-count"] == "9"


@pytest.mark.parametrize("family", FAMILIES, ids=str)
def test_max_tokens_cuts_the_answer(bedrock: Any, family: Family) -> None:
    headers, answer = invoke_json(bedrock, family.model_id, family.body("one two", 4, []))
    assert family.text(answer) == "Hello from the Bedrock"
    assert family.stop(answer) == family.stop_names[1]
    assert headers["x-amzn-bedrock-output-token-count"] == "4"


@pytest.mark.parametrize("family", [f for f in FAMILIES if f.has_stop_sequences], ids=str)
def test_a_stop_sequence_ends_the_answer_before_it(bedrock: Any, family: Family) -> None:
    body = family.body("alpha STOP beta", 256, ["never", "STOP"])
    headers, answer = invoke_json(bedrock, family.model_id, body)
    assert family.text(answer) == REPLY + "alpha "
    assert family.stop(answer) == family.stop_names[2]
    assert headers["x-amzn-bedrock-output-token-count"] == "8"
    if family.name == "anthropic":
        assert answer["stop_sequence"] == "STOP"


def test_whitespace_and_newlines_are_echoed_exactly(bedrock: Any) -> None:
    family = FAMILIES[0]
    _, answer = invoke_json(bedrock, family.model_id, family.body("a\n  b\tc ", 256, []))
    assert family.text(answer) == REPLY + "a\n  b\tc "


@pytest.mark.parametrize(
    ("family_name", "field", "value", "fragment"),
    [
        ("jamba", "max_tokens", "ten", "#/max_tokens: expected type: Integer, found: String"),
        ("mistral", "max_tokens", 0, "#/max_tokens: 0 is not greater or equal to 1"),
        ("cohere", "stop_sequences", [1], "#/stop_sequences: expected type: JSONArray of String"),
    ],
)
def test_bad_limits_are_malformed_input(
    bedrock: Any, family_name: str, field: str, value: Any, fragment: str
) -> None:
    family = next(f for f in FAMILIES if f.name == family_name)
    body = {**family.body("hi", 10, []), field: value}
    with pytest.raises(ClientError) as caught:
        invoke_json(bedrock, family.model_id, body)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert fragment in caught.value.response["Error"]["Message"]
