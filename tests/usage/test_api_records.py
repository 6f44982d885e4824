"""The Invoke API's calls are recorded on the request's own connection, before the answer."""

import json

import pytest

from prompts_library.models import ApiToken
from tests.prompts.fixtures import make_prompt
from usage.models import CallRecord

# Not transactional: a record written on another connection would not be seen here, nor
# rolled back after the test.
pytestmark = pytest.mark.django_db


def invoke(client, prompt, token):
    return client.post(
        f"/api/v1/prompts/{prompt.slug}/invoke",
        json.dumps({"question": "q", "max_tokens": 5}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_each_answer_sent_has_its_record_in_the_requests_transaction(client, sandbox, alice):
    prompt = make_prompt(alice)
    row, token = ApiToken.issue("backend", all_prompts=True)
    answers = [invoke(client, prompt, token) for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3
    records = CallRecord.objects.order_by("pk")
    assert [r.request_id for r in records] == [a.json()["request_id"] for a in answers]
    assert {(r.kind, r.token_id, r.prompt_id, r.ok) for r in records} == {
        ("invoke_api", row.pk, prompt.pk, True)
    }
    assert [r.output_tokens for r in records] == [
        a.json()["usage"]["output_tokens"] for a in answers
    ]


def test_a_timeout_answer_is_recorded_as_one(client, sandbox, alice, settings):
    settings.PROMPTS_INVOKE_TIMEOUT = 0.3
    sandbox.state.set_config(invoke_delay_ms=1500)
    prompt = make_prompt(alice)
    _, token = ApiToken.issue("backend", all_prompts=True)
    answer = invoke(client, prompt, token)
    assert answer.status_code == 504
    record = CallRecord.objects.get()
    assert (record.ok, record.error_code, record.total_ms) == (False, "upstream_timeout", 300)
    sandbox.state.set_config(invoke_delay_ms=0)


def test_a_prompt_that_keeps_bodies_keeps_its_calls_bodies_masked(client, sandbox, alice):
    from usage.models import BodyKeeping

    prompt = make_prompt(alice)
    _, token = ApiToken.issue("backend", all_prompts=True)
    invoke(client, prompt, token)
    BodyKeeping.objects.create(prompt=prompt, days=2)
    from usage import recording

    recording.forget_keeping()
    invoke(client, prompt, token)
    plain, kept = CallRecord.objects.order_by("pk")
    assert plain.request_body == plain.response_body == ""
    assert '"max_tokens": 5' in kept.request_body
    assert "Hello from the Bedrock sandbox" in kept.response_body
    assert kept.bodies_until is not None
