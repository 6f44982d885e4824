"""The Invoke API, as a platform feature calls it with a token, against the real sandbox."""

import json

import pytest

from prompts_library import services
from prompts_library.models import ApiToken, Feature
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import make_prompt

QUESTION = 'Is "this" a \\ test?\nYes {{ok}} 🎉'


@pytest.fixture
def prompt(alice):
    return make_prompt(alice)


@pytest.fixture
def token(bob):
    return ApiToken.issue("Co-pilot backend", bob, all_prompts=True)[1]


def invoke(client, ref, body, token=None, raw=False):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = body if raw else json.dumps(body)
    return client.post(
        f"/api/v1/prompts/{ref}/invoke", data, content_type="application/json", **headers
    )


def assert_error(r, status, code):
    assert r.status_code == status, r.content
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]


def invokes(sandbox):
    return sandbox.state.stats()["invoke_calls"]


@pytest.mark.django_db
class TestSuccess:
    def test_a_feature_gets_the_models_text(self, client, sandbox, prompt, token):
        r = invoke(client, prompt.slug, {"question": QUESTION, "max_tokens": 100}, token)
        assert r.status_code == 200, r.content
        data = r.json()
        assert data["text"].startswith("Hello from the Bedrock sandbox. You said: ")
        assert QUESTION in data["text"]
        assert data["usage"]["input_tokens"] > 0 and data["usage"]["output_tokens"] > 0
        assert data["prompt_version"] == 1
        assert data["request_id"]
        assert isinstance(data["latency_ms"], int)
        assert sandbox.state.requests()[-1]["session_name"].startswith("console-system-api-p")

    def test_the_prompt_id_works_as_well_as_the_slug(self, client, sandbox, prompt, token):
        r = invoke(client, prompt.pk, {"question": "q", "max_tokens": 5}, token)
        assert r.status_code == 200

    @pytest.mark.parametrize(
        "model_id",
        [
            "us.anthropic.claude-3-haiku-20240307-v1:0",
            "global.anthropic.claude-3-haiku-20240307-v1:0",
            "arn:aws:bedrock:us-east-1:111122223333:inference-profile/"
            "us.anthropic.claude-3-haiku-20240307-v1:0",
        ],
    )
    def test_a_prompt_on_an_inference_profile_integration(
        self, client, sandbox, alice, token, model_id
    ):
        integration = make_integration(name="Haiku cross-region", model_id=model_id)
        prompt = make_prompt(alice, name="Cross-region", integration=integration)
        r = invoke(client, prompt.slug, {"question": "Where?", "max_tokens": 20}, token)
        assert r.status_code == 200, r.content
        assert r.json()["text"].startswith("Hello from the Bedrock sandbox. You said: Where?")
        assert r.json()["usage"]["output_tokens"] > 0
        assert sandbox.state.requests()[-1]["model_id"] == model_id

    def test_it_serves_the_published_version_not_the_latest(
        self, client, sandbox, prompt, token, alice
    ):
        from tests.prompts.fixtures import content

        services.save_version(prompt, content(response_path="nothing.here"), alice)
        r = invoke(client, prompt.slug, {"question": "q", "max_tokens": 5}, token)
        assert r.json()["prompt_version"] == 1

    def test_last_used_is_recorded(self, client, sandbox, prompt, token):
        invoke(client, prompt.slug, {"question": "q", "max_tokens": 5}, token)
        assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.django_db
class TestRefusals:
    """Every refusal comes before anything reaches Bedrock."""

    def test_no_token_is_401(self, client, sandbox, prompt):
        r = invoke(client, prompt.slug, {"question": "q", "max_tokens": 5})
        assert_error(r, 401, "unauthorized")
        assert r["WWW-Authenticate"].startswith("Bearer")
        assert invokes(sandbox) == 0

    def test_a_wrong_token_is_401(self, client, sandbox, prompt, token):
        assert_error(invoke(client, prompt.slug, {}, token + "x"), 401, "unauthorized")

    def test_a_revoked_token_is_401(self, client, sandbox, prompt, token, alice_client):
        alice_client.post(f"/prompts/tokens/{ApiToken.objects.get().pk}/revoke/")
        assert_error(invoke(client, prompt.slug, {}, token), 401, "unauthorized")

    def test_a_token_limited_to_other_prompts_is_403(self, client, sandbox, prompt, alice):
        other = make_prompt(alice, name="Other", integration=prompt.integration)
        row, token = ApiToken.issue("limited", all_prompts=False)
        row.prompts.set([other])
        assert_error(invoke(client, prompt.slug, {}, token), 403, "forbidden")
        assert (
            invoke(client, other.slug, {"question": "q", "max_tokens": 5}, token).status_code == 200
        )

    def test_a_token_limited_to_a_feature(self, client, sandbox, prompt, alice):
        conversations = Feature.objects.get(name="Dynamic Conversations")
        row, token = ApiToken.issue("conversations only", all_prompts=False)
        row.features.set([conversations])
        assert_error(invoke(client, prompt.slug, {}, token), 403, "forbidden")
        assert (
            invoke(client, prompt.slug, {}, ApiToken.issue("all", all_prompts=True)[1]).status_code
            == 400
        )

    def test_an_unknown_prompt_is_404(self, client, sandbox, token):
        assert_error(invoke(client, "no-such-prompt", {}, token), 404, "not_found")
        assert_error(invoke(client, "999999", {}, token), 404, "not_found")

    def test_an_unpublished_prompt_is_409(self, client, sandbox, token, alice):
        draft = make_prompt(alice, published=False)
        assert_error(invoke(client, draft.slug, {}, token), 409, "no_published_version")

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ("{not json", "validation_error"),
            ("[1, 2]", "validation_error"),
            ('"text"', "validation_error"),
            ('{"question": NaN, "max_tokens": 1}', "validation_error"),
            ('{"max_tokens": 5}', "missing_variable"),
            ('{"question": "q", "max_tokens": 5, "extra": 1}', "unknown_variable"),
        ],
    )
    def test_bad_variables_are_400(self, client, sandbox, prompt, token, body, code):
        assert_error(invoke(client, prompt.slug, body, token, raw=True), 400, code)
        assert invokes(sandbox) == 0

    @pytest.mark.parametrize("depth", [66, 50_000])
    def test_a_body_nested_too_deeply_is_400_with_a_clear_message(
        self, client, sandbox, prompt, token, depth
    ):
        body = '{"question": "q", "max_tokens": ' + "[" * depth + "]" * depth + "}"
        r = invoke(client, prompt.slug, body, token, raw=True)
        assert_error(r, 400, "validation_error")
        assert r.json()["error"]["message"] == "A value is nested more than 64 levels deep."
        assert invokes(sandbox) == 0

    def test_get_is_405(self, client, prompt, token):
        r = client.get(f"/api/v1/prompts/{prompt.slug}/invoke", HTTP_AUTHORIZATION=token)
        assert r.status_code == 405


@pytest.mark.django_db
class TestUpstream:
    BODY = {"question": "q", "max_tokens": 5}

    def test_throttling_is_503_with_retry_after(self, client, sandbox, prompt, token, settings):
        settings.AWS_MAX_ATTEMPTS = 1
        sandbox.state.add_fault("invoke", "throttle", match="*", times=10)
        r = invoke(client, prompt.slug, self.BODY, token)
        assert_error(r, 503, "upstream_throttled")
        assert r["Retry-After"] == "1"

    def test_access_denied_is_502(self, client, sandbox, prompt, token):
        sandbox.state.add_fault(
            "invoke", "error", match="*", code="AccessDeniedException", status=403, times=1
        )
        assert_error(invoke(client, prompt.slug, self.BODY, token), 502, "upstream_access_denied")

    def test_a_refused_role_is_502_without_the_arn(self, client, sandbox, prompt, token):
        prompt.integration.external_id = "wrong-external-id"
        prompt.integration.save(update_fields=["external_id"])
        r = invoke(client, prompt.slug, self.BODY, token)
        assert_error(r, 502, "upstream_access_denied")
        assert "111122223333" not in r.json()["error"]["message"]

    def test_a_slow_model_is_504_within_the_timeout(self, client, sandbox, prompt, token, settings):
        settings.PROMPTS_INVOKE_TIMEOUT = 0.5
        sandbox.state.add_fault("invoke", "hang", match="*", seconds=3, times=1)
        r = invoke(client, prompt.slug, self.BODY, token)
        assert_error(r, 504, "upstream_timeout")

    def test_a_model_that_drips_its_answer_is_504_at_the_timeout(
        self, client, sandbox, prompt, token, settings
    ):
        import time

        settings.PROMPTS_INVOKE_TIMEOUT = 0.5
        invoke(client, prompt.slug, self.BODY, token)  # credentials at hand, as on a busy API
        sandbox.state.add_fault("invoke", "drip", match="*", interval_ms=100, times=1)
        started = time.monotonic()
        r = invoke(client, prompt.slug, self.BODY, token)
        assert_error(r, 504, "upstream_timeout")
        assert time.monotonic() - started < 1.5  # not the body's whole drip (tens of seconds)

    def test_a_throttled_call_retried_into_a_hang_is_504_at_the_timeout(
        self, client, sandbox, prompt, token, settings
    ):
        import time

        settings.PROMPTS_INVOKE_TIMEOUT = 0.5
        invoke(client, prompt.slug, self.BODY, token)
        # The sandbox takes the newest fault first: throttled, then the retry hangs.
        sandbox.state.add_fault("invoke", "hang", match="*", seconds=5, times=1)
        sandbox.state.add_fault("invoke", "throttle", match="*", times=1)
        started = time.monotonic()
        r = invoke(client, prompt.slug, self.BODY, token)
        assert_error(r, 504, "upstream_timeout")
        assert time.monotonic() - started < 2.5  # the retry's pause and one timeout, no more
        assert invokes(sandbox) == 3  # the first call, then throttled, then the hanging retry

    def test_a_hanging_sts_is_504_at_the_timeout(self, client, sandbox, prompt, token, settings):
        import time

        settings.PROMPTS_INVOKE_TIMEOUT = 0.5
        sandbox.state.add_fault("sts", "hang", match="*", seconds=5, times=1)
        started = time.monotonic()
        r = invoke(client, prompt.slug, self.BODY, token)  # no credentials yet: STS is called
        assert_error(r, 504, "upstream_timeout")
        assert time.monotonic() - started < 1.5  # not STS's own read timeout
        assert invokes(sandbox) == 0

    def test_a_model_error_is_502(self, client, sandbox, prompt, token):
        sandbox.state.add_fault(
            "invoke", "error", match="*", code="ModelErrorException", status=424, times=1
        )
        assert_error(invoke(client, prompt.slug, self.BODY, token), 502, "upstream_error")

    def test_an_empty_answer_is_502(self, client, sandbox, prompt, token):
        sandbox.state.add_fault("invoke", "empty_object", match="*", times=1)
        r = invoke(client, prompt.slug, self.BODY, token)
        assert_error(r, 502, "upstream_error")
        assert "empty" in r.json()["error"]["message"]
