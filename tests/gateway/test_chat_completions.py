"""POST /api/v1/chat/completions with the official openai client, against the sandbox."""

import json

import openai
import pytest

from audit import recorder
from audit.models import AuditEvent
from prompts_library.models import ApiToken
from usage import journal
from usage.models import CallRecord

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Where is my order?"},
]


def test_it_answers_in_the_chat_completions_shape(gpt, sandbox, haiku):
    raw = gpt.chat.completions.with_raw_response.create(
        model="bedrock-anthropic-haiku", messages=HELLO, max_tokens=100, temperature=0.5
    )
    assert raw.headers["x-served-by"] == "bedrock-anthropic-haiku"
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-") and completion.created > 0
    assert completion.model == "bedrock-anthropic-haiku"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content.startswith("Hello from the Bedrock sandbox")
    assert "Where is my order?" in choice.message.content
    assert choice.finish_reason == "stop"
    usage = completion.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    # Translated to Converse: the system message, the user's text, the inference settings.
    call = sandbox.state.requests()[-1]
    assert call["operation"] == "Converse"
    sent = json.loads(call["body"])
    assert sent["system"] == [{"text": "Be brief."}]
    assert sent["messages"] == [{"role": "user", "content": [{"text": "Where is my order?"}]}]
    assert sent["inferenceConfig"] == {"maxTokens": 100, "temperature": 0.5}


def test_text_parts_stop_and_user_reach_converse(gpt, sandbox, haiku):
    completion = gpt.chat.completions.create(
        model="bedrock-anthropic-haiku",
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "One"}]},
            {"role": "assistant", "content": "Two"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Three"}, {"type": "text", "text": "Four"}],
            },
        ],
        max_completion_tokens=50,
        top_p=0.9,
        stop=["never-said"],
        user="customer-42",
    )
    assert completion.choices[0].finish_reason == "stop"
    sent = json.loads(sandbox.state.requests()[-1]["body"])
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][2]["content"] == [{"text": "Three"}, {"text": "Four"}]
    assert sent["inferenceConfig"] == {
        "maxTokens": 50,
        "topP": 0.9,
        "stopSequences": ["never-said"],
    }
    assert sent["requestMetadata"] == {"user": "customer-42"}


def test_a_cut_answer_finishes_with_length(gpt, sandbox, haiku):
    completion = gpt.chat.completions.create(
        model="bedrock-anthropic-haiku", messages=HELLO, max_tokens=2
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 2


def test_it_streams_chunks_ending_with_usage_and_done(gpt, live_server, sandbox, haiku, token):
    plain = gpt.chat.completions.create(model="bedrock-anthropic-haiku", messages=HELLO)
    stream = gpt.chat.completions.create(
        model="bedrock-anthropic-haiku",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    finished = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finished[-1] == "stop" and set(finished[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == plain.usage.total_tokens
    assert sandbox.state.requests()[-1]["operation"] == "ConverseStream"
    # The streamed call's record has its time to first token; the plain one has none.
    journal.settle()
    plain_record, streamed_record = CallRecord.objects.order_by("pk")
    assert plain_record.first_token_ms is None
    assert 0 <= streamed_record.first_token_ms <= streamed_record.total_ms


def test_the_stream_is_server_sent_events_ending_with_done(live_server, sandbox, haiku, token):
    import httpx

    with httpx.stream(
        "POST",
        f"{live_server.url}/api/v1/chat/completions",
        json={"model": "bedrock-anthropic-haiku", "messages": HELLO, "stream": True},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-served-by"] == "bedrock-anthropic-haiku"
        events = [line for line in r.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    last = json.loads(events[-2].removeprefix("data: "))
    assert last["choices"][0]["finish_reason"] == "stop" and "usage" not in last


def test_a_stream_broken_mid_way_ends_with_an_openai_error(gpt, sandbox, haiku):
    sandbox.state.add_fault("invoke", "stream_error", after=2, code="modelStreamErrorException")
    stream = gpt.chat.completions.create(
        model="bedrock-anthropic-haiku", messages=HELLO, stream=True
    )
    texts = []
    with pytest.raises(openai.APIError) as raised:
        for c in stream:
            texts.append(c.choices[0].delta.content or "")
    assert "".join(texts) == "Hello from"
    assert raised.value.code == "upstream_error"
    assert "ModelStreamErrorException" in raised.value.message


def test_the_call_is_recorded_and_audited_for_the_token(gpt, sandbox, haiku):
    gpt.chat.completions.create(model="bedrock-anthropic-haiku", messages=HELLO)
    journal.settle()
    record = CallRecord.objects.get()
    token = ApiToken.objects.get()
    assert record.kind == "chat_completions" and record.ok
    assert record.token_id == token.pk and record.integration_id == haiku.pk
    assert record.input_tokens > 0 and record.output_tokens > 0
    recorder.chain_pending()  # as every reader of the trail does (token use is chained later)
    used = AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_USED, object_id=str(token.pk))
    assert used.get().changes["path"] == "/api/v1/chat/completions"


def test_a_client_that_leaves_mid_stream_still_leaves_a_record(live_server, sandbox, haiku, token):
    import time

    import httpx

    sandbox.state.set_config(stream_interval_ms=100)
    with httpx.stream(
        "POST",
        f"{live_server.url}/api/v1/chat/completions",
        json={"model": "bedrock-anthropic-haiku", "messages": HELLO, "stream": True},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ) as r:
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")  # then the client goes away
    deadline = time.monotonic() + 20
    while not CallRecord.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    record = CallRecord.objects.get()
    assert record.kind == "chat_completions" and record.token_id


def test_a_throttled_integration_is_served_by_its_fallback(live_server, bob, sandbox):
    from tests.fallbacks.helpers import FALLBACK_MODEL, PRIMARY_MODEL, chained, fail
    from tests.gateway.conftest import client_for

    primary, fallback = chained()
    plaintext = tokens_for(bob, primary)
    fail(sandbox, PRIMARY_MODEL)
    raw = client_for(live_server, plaintext).chat.completions.with_raw_response.create(
        model=primary.api_name, messages=HELLO
    )
    assert raw.headers["x-served-by"] == fallback.api_name
    assert raw.parse().choices[0].message.content
    calls = [r["model_id"] for r in sandbox.state.requests() if r["operation"] == "Converse"]
    assert calls == [PRIMARY_MODEL, FALLBACK_MODEL]
    journal.settle()
    records = CallRecord.objects.order_by("pk")
    assert [(r.integration_id, r.ok) for r in records] == [(primary.pk, False), (fallback.pk, True)]
    assert {r.kind for r in records} == {"chat_completions"}


def test_a_streamed_answer_says_which_member_of_the_chain_streams_it(live_server, bob, sandbox):
    from tests.fallbacks.helpers import FALLBACK_MODEL, PRIMARY_MODEL, chained, fail
    from tests.gateway.conftest import client_for

    primary, fallback = chained()
    gpt = client_for(live_server, tokens_for(bob, primary))

    def streamed():
        with gpt.chat.completions.with_streaming_response.create(
            model=primary.api_name, messages=HELLO, stream=True
        ) as raw:
            text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
            return raw.headers["x-served-by"], text

    served, text = streamed()
    assert served == primary.api_name and text
    fail(sandbox, PRIMARY_MODEL)
    served, text = streamed()
    assert served == fallback.api_name and text
    calls = [r["model_id"] for r in sandbox.state.requests() if r["operation"] == "ConverseStream"]
    assert calls[-2:] == [PRIMARY_MODEL, FALLBACK_MODEL]


def tokens_for(user, integration) -> str:
    from prompts_library import tokens

    return tokens.issue_token("Gateway", user, integrations=[integration])[1]


def test_a_chain_set_after_a_call_applies_to_the_next(client, bob, sandbox):
    from integrations import fallbacks
    from tests.fallbacks.helpers import FALLBACK_MODEL, PRIMARY_MODEL, fail, make_integration

    primary = make_integration(name="Primary", model_id=PRIMARY_MODEL)
    fallback = make_integration(name="Fallback", model_id=FALLBACK_MODEL)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens_for(bob, primary)}"}
    body = {"model": primary.api_name, "messages": HELLO}

    def call():
        return client.post(
            "/api/v1/chat/completions", body, content_type="application/json", **auth
        )

    assert call()["X-Served-By"] == primary.api_name  # the integration is now cached
    fallbacks.set_chain(primary, [fallback])
    fail(sandbox, PRIMARY_MODEL)
    r = call()
    assert r.status_code == 200 and r["X-Served-By"] == fallback.api_name
