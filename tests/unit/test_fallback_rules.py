"""Which errors a fallback may step around, and which chains a request can run on."""

from types import SimpleNamespace

import pytest

from bedrock import fallbacks, invoke
from integrations.fallbacks import MAX_FALLBACKS, ChainError, check_chain

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
LLAMA = "meta.llama3-8b-instruct-v1:0"


def error(code, step=invoke.INVOKE):
    return invoke.Error(step, code, "message", "hint")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 429),
        ("Throttling", 400),  # STS
        ("throttlingException", None),  # a stream's error event
        ("ServiceUnavailableException", 503),
        ("InternalServerException", 500),
        ("ModelNotReadyException", 429),
        ("ModelTimeoutException", 408),
        ("ReadTimeout", None),
        ("ConnectTimeout", None),
        ("EndpointUnreachable", None),
        ("ConnectionClosedError", None),
        ("SomethingNew", 502),
    ],
)
def test_it_falls_back_on_throttling_timeouts_and_server_errors(code, status):
    assert fallbacks.worth_falling_back(error(code), status)


@pytest.mark.parametrize(
    ("code", "status", "step"),
    [
        ("ValidationException", 400, invoke.INVOKE),
        ("AccessDeniedException", 403, invoke.INVOKE),
        ("AccessDenied", 403, invoke.STS),
        ("ExpiredTokenException", 403, invoke.INVOKE),
        ("ResourceNotFoundException", 404, invoke.INVOKE),
        ("InvalidRequest", None, invoke.INVOKE),
        ("EndpointNotAllowed", None, invoke.STS),
        ("NoOutputText", 200, invoke.EXTRACT),
        ("SomethingNew", 418, invoke.INVOKE),
        ("AccessDeniedException", 500, invoke.INVOKE),  # never, whatever the status
    ],
)
def test_it_never_falls_back_on_invalid_requests_or_denied_access(code, status, step):
    assert not fallbacks.worth_falling_back(error(code, step), status)


def test_a_converse_request_runs_on_every_family():
    assert fallbacks.incompatibility(invoke.CONVERSE, HAIKU, LLAMA) == ""


def test_a_familys_own_json_runs_only_on_that_family():
    assert fallbacks.incompatibility(invoke.INVOKE_MODEL, HAIKU, SONNET) == ""
    why = fallbacks.incompatibility(invoke.INVOKE_MODEL, HAIKU, LLAMA)
    assert "Anthropic Claude (Messages) JSON" in why and "Meta Llama 3" in why
    assert "Converse" in why


def member(pk, model_id=HAIKU, name=None):
    return SimpleNamespace(pk=pk, model_id=model_id, name=name or f"M{pk}")


def test_a_chain_refuses_itself_duplicates_too_many_and_incompatible_members():
    primary = member(1)
    with pytest.raises(ChainError, match="its own fallback") as e:
        check_chain(invoke.INVOKE_MODEL, primary, HAIKU, [member(2), member(1)])
    assert e.value.position == 1
    with pytest.raises(ChainError, match="already in the chain"):
        check_chain(invoke.INVOKE_MODEL, primary, HAIKU, [member(2), member(2)])
    with pytest.raises(ChainError, match="at most"):
        check_chain(invoke.CONVERSE, primary, HAIKU, [member(i) for i in range(2, 8)])
    with pytest.raises(ChainError, match="Meta Llama 3"):
        check_chain(invoke.INVOKE_MODEL, primary, HAIKU, [member(2, LLAMA)])
    check_chain(invoke.CONVERSE, primary, HAIKU, [member(2, LLAMA), member(3)])
    assert MAX_FALLBACKS == 5
