"""Errors of /api/v1/chat/completions, raised by the openai client as its own exceptions."""

import openai
import pytest

from prompts_library import tokens
from tests.gateway.conftest import client_for
from usage import limits

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "bedrock-anthropic-haiku"
HELLO = [{"role": "user", "content": "Hi"}]


def calls(sandbox):
    return len(sandbox.state.requests())


def test_an_unknown_or_revoked_key_is_an_authentication_error(live_server, sandbox, haiku, token):
    with pytest.raises(openai.AuthenticationError) as raised:
        client_for(live_server, "bcp_not-a-token").chat.completions.create(
            model=MODEL, messages=HELLO
        )
    assert raised.value.status_code == 401 and raised.value.code == "invalid_api_key"
    tokens.revoke_token(tokens.ApiToken.objects.get().pk)
    with pytest.raises(openai.AuthenticationError):
        client_for(live_server, token).chat.completions.create(model=MODEL, messages=HELLO)
    assert calls(sandbox) == 0


def test_a_model_outside_the_tokens_scope_is_refused(gpt, sandbox, haiku, other):
    with pytest.raises(openai.PermissionDeniedError) as raised:
        gpt.chat.completions.create(model="other-corp-sonnet", messages=HELLO)
    assert raised.value.status_code == 403 and raised.value.code == "model_not_allowed"
    assert raised.value.param == "model"
    assert calls(sandbox) == 0


def test_a_token_for_prompts_only_may_use_no_integration(live_server, bob, sandbox, haiku):
    plaintext = tokens.issue_token("Prompts only", bob, all_prompts=True)[1]
    with pytest.raises(openai.PermissionDeniedError):
        client_for(live_server, plaintext).chat.completions.create(model=MODEL, messages=HELLO)


def test_an_unknown_model_is_not_found(gpt, sandbox, haiku):
    with pytest.raises(openai.NotFoundError) as raised:
        gpt.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert raised.value.status_code == 404 and raised.value.code == "model_not_found"
    assert "gpt-4o" in raised.value.message


@pytest.mark.parametrize(
    ("kwargs", "param", "words"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools", "Tools"),
        ({"n": 2}, "n", "n = 1"),
        ({"logprobs": True}, "logprobs", "Log probabilities"),
        ({"response_format": {"type": "json_object"}}, "response_format", "text"),
        ({"extra_body": {"colour": "blue"}}, "colour", "Unrecognized"),
        ({"temperature": 1.5}, "temperature", "0 to 1"),
        ({"max_tokens": "ten"}, "max_tokens", "whole number"),
        ({"messages": []}, "messages", "non-empty"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
                    }
                ]
            },
            "messages[0].content[0]",
            "image_url",
        ),
        (
            {"messages": [{"role": "tool", "content": "42", "tool_call_id": "t1"}]},
            "messages[0].role",
            "tool",
        ),
        ({"stream_options": {"include_usage": True}}, "stream_options", "stream: true"),
    ],
)
def test_what_the_gateway_does_not_do_is_refused_by_name(gpt, sandbox, haiku, kwargs, param, words):
    kwargs = {"model": MODEL, "messages": HELLO, **kwargs}
    with pytest.raises(openai.BadRequestError) as raised:
        gpt.chat.completions.create(**kwargs)
    error = raised.value
    assert error.status_code == 400
    assert error.body["type"] == "invalid_request_error"
    assert error.param == param and words in error.message
    assert calls(sandbox) == 0


def test_over_the_tokens_limit_is_a_rate_limit_error(gpt, sandbox, haiku, alice):
    token = tokens.ApiToken.objects.get()
    limits.do_set_limits(
        token, requests_per_minute=1, tokens_per_minute=None, monthly_budget_usd=None, user=alice
    )
    ok = gpt.chat.completions.with_raw_response.create(model=MODEL, messages=HELLO)
    assert ok.headers["x-ratelimit-limit"] == "1"
    with pytest.raises(openai.RateLimitError) as raised:
        gpt.chat.completions.create(model=MODEL, messages=HELLO)
    error = raised.value
    assert error.status_code == 429 and error.code == "rate_limit_exceeded"
    assert int(error.response.headers["retry-after"]) >= 1
    assert calls(sandbox) == 1


def test_bedrock_throttling_is_a_server_error_with_retry_after(gpt, sandbox, haiku):
    sandbox.state.add_fault("invoke", "error", code="ThrottlingException", status=429)
    with pytest.raises(openai.InternalServerError) as raised:
        gpt.chat.completions.create(model=MODEL, messages=HELLO)
    assert raised.value.status_code == 503 and raised.value.code == "upstream_throttled"
    assert raised.value.response.headers["retry-after"] == "1"


def test_a_stream_refused_before_any_text_is_a_json_error(gpt, sandbox, haiku):
    sandbox.state.add_fault("invoke", "error", code="AccessDeniedException", status=403)
    with pytest.raises(openai.APIStatusError) as raised:
        gpt.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    assert raised.value.status_code == 502 and raised.value.code == "upstream_access_denied"
    assert "arn:aws" not in raised.value.message


def test_a_model_slower_than_the_timeout_is_a_504(gpt, sandbox, haiku, settings):
    settings.PROMPTS_INVOKE_TIMEOUT = 1
    sandbox.state.add_fault("invoke", "delay", ms=3000)
    for stream in (False, True):
        with pytest.raises(openai.InternalServerError) as raised:
            gpt.chat.completions.create(model=MODEL, messages=HELLO, stream=stream)
        assert raised.value.status_code == 504 and raised.value.code == "upstream_timeout"


def test_a_body_that_is_not_json_is_a_400_in_openais_shape(client, token, haiku):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    r = client.post("/api/v1/chat/completions", "{nope", content_type="application/json", **auth)
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    r = client.post("/api/v1/chat/completions", "a=b", content_type="text/plain", **auth)
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    r = client.get("/api/v1/chat/completions", **auth)
    assert r.status_code == 405 and r["Allow"] == "POST"


def test_it_answers_with_redis_unreachable(client, sandbox, haiku, token, alice, redis_down):
    limits.do_set_limits(
        tokens.ApiToken.objects.get(),
        requests_per_minute=5,
        tokens_per_minute=None,
        monthly_budget_usd=None,
        user=alice,
    )
    redis_down()  # the cache version, the limits' counters: the database serves them
    r = client.post(
        "/api/v1/chat/completions",
        {"model": MODEL, "messages": HELLO},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert r.status_code == 200, r.content
    assert r.json()["choices"][0]["message"]["content"]
    assert r["X-RateLimit-Limit"] == "5"


def test_errors_of_the_server_itself_are_in_openais_shape(client, token):
    r = client.get("/api/v1/chat/nothing-here", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
