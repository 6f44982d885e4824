"""The Invoke API steps around a throttled or failing model, and says who served the call."""

import json

import pytest

from prompts_library import fallbacks as prompt_fallbacks
from prompts_library.models import ApiToken
from tests.fallbacks.helpers import (
    FALLBACK_MODEL,
    PRIMARY_MODEL,
    calls_of,
    chained,
    fail,
    make_integration,
)
from tests.prompts.fixtures import make_prompt
from usage.models import CallRecord

BODY = {"question": "Who answers?", "max_tokens": 50}


@pytest.fixture
def token(bob):
    return ApiToken.issue("Co-pilot backend", bob, all_prompts=True)[1]


@pytest.fixture
def chain(alice):
    primary, fallback = chained()
    return make_prompt(alice, integration=primary), primary, fallback


@pytest.fixture(autouse=True)
def _one_attempt_per_call(settings):
    settings.AWS_MAX_ATTEMPTS = 1  # a throttled call fails at once (no retry within the call)
    settings.FALLBACK_FAILURES_BEFORE_COOLDOWN = 3


def invoke(client, ref, token, body=BODY):
    return client.post(
        f"/api/v1/prompts/{ref}/invoke",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.mark.django_db
class TestInvokeApiFallback:
    def test_it_is_served_by_the_primary_when_it_answers(self, client, sandbox, chain, token):
        prompt, primary, _ = chain
        r = invoke(client, prompt.slug, token)
        assert r.status_code == 200, r.content
        assert r["X-Served-By"] == primary.api_name
        data = r.json()
        assert data["served_by"] == primary.api_name
        assert [a["ok"] for a in data["attempts"]] == [True]
        assert calls_of(sandbox, FALLBACK_MODEL) == 0

    def test_it_serves_a_throttled_primary_by_its_fallback(self, client, sandbox, chain, token):
        prompt, primary, fallback = chain
        fail(sandbox, PRIMARY_MODEL)
        r = invoke(client, prompt.slug, token)
        assert r.status_code == 200, r.content
        assert r["X-Served-By"] == fallback.api_name
        data = r.json()
        assert data["text"].startswith("Hello from the Bedrock sandbox")
        assert data["served_by"] == fallback.api_name
        first, second = data["attempts"]
        assert first["integration"] == primary.api_name and not first["ok"]
        assert first["error_code"] == "ThrottlingException" and first["http_status"] == 429
        assert first["message"].startswith("ThrottlingException")
        assert second == {**second, "integration": fallback.api_name, "ok": True}
        # One usage record per attempt, each on its own integration, with its error.
        records = CallRecord.objects.filter(kind="invoke_api").order_by("id")
        assert [(r.integration_id, r.ok, r.error_code) for r in records] == [
            (primary.pk, False, "ThrottlingException"),
            (fallback.pk, True, ""),
        ]

    @pytest.mark.parametrize(
        ("code", "status"),
        [
            ("ServiceUnavailableException", 503),
            ("InternalServerException", 500),
            ("ModelNotReadyException", 429),
            ("ModelTimeoutException", 408),
        ],
    )
    def test_it_falls_back_on_server_errors(self, client, sandbox, chain, token, code, status):
        prompt, _, fallback = chain
        fail(sandbox, PRIMARY_MODEL, "error", code=code, status=status, message="down")
        r = invoke(client, prompt.slug, token)
        assert r.status_code == 200, r.content
        assert r.json()["served_by"] == fallback.api_name
        assert r.json()["attempts"][0]["error_code"] == code

    def test_a_throttled_member_with_a_next_one_is_not_retried_the_last_one_is(
        self, client, sandbox, chain, token, settings
    ):
        prompt, _, fallback = chain
        settings.AWS_MAX_ATTEMPTS = 3
        fail(sandbox, PRIMARY_MODEL)
        fail(sandbox, FALLBACK_MODEL, times=1)  # the fallback: throttled once, then answers
        r = invoke(client, prompt.slug, token)
        assert r.json()["served_by"] == fallback.api_name
        assert calls_of(sandbox, PRIMARY_MODEL) == 1  # moved on at once
        assert calls_of(sandbox, FALLBACK_MODEL) == 2  # nowhere else to go: retried

    def test_it_falls_back_when_the_connection_closes(self, client, sandbox, chain, token):
        prompt, _, fallback = chain
        fail(sandbox, PRIMARY_MODEL, "close")
        r = invoke(client, prompt.slug, token)
        assert r.status_code == 200, r.content
        assert r.json()["served_by"] == fallback.api_name

    def test_an_invalid_request_does_not_fall_back(self, client, sandbox, chain, token):
        prompt, _, _ = chain
        fail(sandbox, PRIMARY_MODEL, "error", code="ValidationException", status=400)
        r = invoke(client, prompt.slug, token)
        assert r.status_code == 502
        assert "X-Served-By" not in r
        data = r.json()
        assert data["error"]["code"] == "upstream_error"
        assert [a["error_code"] for a in data["attempts"]] == ["ValidationException"]
        assert calls_of(sandbox, FALLBACK_MODEL) == 0

    def test_access_denied_does_not_fall_back(self, client, sandbox, chain, token):
        from sandbox import DEMO_EXTERNAL_ID, DEMO_ROLE_ARN

        prompt, _, _ = chain
        # The role may call the fallback's model, not the primary's.
        sandbox.state.add_role(DEMO_ROLE_ARN, DEMO_EXTERNAL_ID, models=[FALLBACK_MODEL])
        r = invoke(client, prompt.slug, token)
        assert r.status_code == 502
        data = r.json()
        assert data["error"]["code"] == "upstream_access_denied"
        assert [a["error_code"] for a in data["attempts"]] == ["AccessDeniedException"]
        assert calls_of(sandbox, FALLBACK_MODEL) == 0

    def test_sts_access_denied_does_not_fall_back(self, client, sandbox, chain, token):
        prompt, _, _ = chain
        sandbox.state.add_fault(
            "sts", "error", code="AccessDenied", status=403, message="no", times=1
        )
        r = invoke(client, prompt.slug, token)
        assert r.json()["error"]["code"] == "upstream_access_denied"
        assert [a["error_code"] for a in r.json()["attempts"]] == ["AccessDenied"]
        assert sandbox.state.stats()["invoke_calls"] == 0

    def test_when_every_member_fails_the_error_lists_them_all(self, client, sandbox, chain, token):
        prompt, primary, fallback = chain
        fail(sandbox, "anthropic.*")
        r = invoke(client, prompt.slug, token)
        assert r.status_code == 503
        data = r.json()
        assert data["error"]["code"] == "upstream_throttled"
        assert [a["integration"] for a in data["attempts"]] == [primary.api_name, fallback.api_name]
        assert CallRecord.objects.filter(kind="invoke_api", ok=False).count() == 2

    def test_a_prompts_own_chain_replaces_its_integrations(
        self, alice, client, sandbox, chain, token
    ):
        prompt, _, _ = chain
        own = make_integration(
            name="Prompt's own", model_id="anthropic.claude-3-opus-20240229-v1:0"
        )
        prompt_fallbacks.set_chain(prompt, [own])
        fail(sandbox, PRIMARY_MODEL)
        r = invoke(client, prompt.slug, token)
        assert r.json()["served_by"] == own.api_name
        assert calls_of(sandbox, FALLBACK_MODEL) == 0

    def test_a_cooling_primary_is_skipped_without_a_call(self, client, sandbox, chain, token):
        prompt, _primary, fallback = chain
        fail(sandbox, PRIMARY_MODEL)
        for _ in range(3):
            assert invoke(client, prompt.slug, token).json()["served_by"] == fallback.api_name
        assert calls_of(sandbox, PRIMARY_MODEL) == 3
        sandbox.state.clear_faults()
        r = invoke(client, prompt.slug, token)
        assert r.json()["served_by"] == fallback.api_name
        skipped = r.json()["attempts"][0]
        assert skipped["skipped"] and skipped["error_code"] == "CoolingDown"
        assert skipped["latency_ms"] is None
        assert calls_of(sandbox, PRIMARY_MODEL) == 3  # not called while it cools down


@pytest.mark.django_db(transaction=True)
class TestStreamedFallback:
    def _stream(self, live_server, prompt, token):
        from tests.prompts.test_api_stream import stream

        return stream(live_server, prompt.slug, token, BODY)

    def test_a_stream_throttled_before_its_first_byte_is_served_by_the_fallback(
        self, live_server, sandbox, chain, token
    ):
        prompt, _primary, fallback = chain
        fail(sandbox, PRIMARY_MODEL)
        got = self._stream(live_server, prompt, token)
        assert [name for name, _, _ in got][-1] == "done"
        assert "".join(d["text"] for name, d, _ in got if name == "text").startswith("Hello")
        done = got[-1][1]
        assert done["served_by"] == fallback.api_name
        assert [a["error_code"] for a in done["attempts"]] == ["ThrottlingException", None]

    def test_a_stream_that_breaks_after_its_first_text_stays_with_its_model(
        self, live_server, sandbox, chain, token
    ):
        prompt, _, _ = chain
        fail(sandbox, PRIMARY_MODEL, "stream_error", code="throttlingException", after=2)
        got = self._stream(live_server, prompt, token)
        assert [name for name, _, _ in got] == ["text", "text", "error"]
        error = got[-1][1]
        assert [a["error_code"] for a in error["attempts"]] == ["ThrottlingException"]
        assert calls_of(sandbox, FALLBACK_MODEL) == 0
