"""bedrock.invoke.call against the sandbox: one typed result, the observers told once."""

import pytest

from bedrock import families, invoke, observe
from integrations.models import Configuration, Header
from sandbox import DEMO_EXTERNAL_ID, DEMO_MODEL_ID, DEMO_ROLE_ARN
from tests.conftest import SANDBOX_URL

BODY = families.default_request_json(families.FAMILIES["anthropic"])
CONFIG = Configuration(
    role_arn=DEMO_ROLE_ARN,
    sts_endpoint=SANDBOX_URL,
    external_id=DEMO_EXTERNAL_ID,
    model_id=DEMO_MODEL_ID,
    endpoint=SANDBOX_URL,
    headers=(Header("X-Tenant", "acme", True),),
    request_json=BODY,
)
CONTEXT = observe.CallContext(observe.CONNECTION_TEST, None, test_id=7)


@pytest.fixture
def outcomes():
    seen = []

    def observer(context, outcome):
        seen.append((context, outcome))

    observe.add_observer(observer)
    yield seen
    observe.remove_observer(observer)


def call(config=CONFIG, body=BODY, paths=None, session="console-test"):
    return invoke.call(
        config, invoke.Request(body.encode(), paths), invoke.Options(session), CONTEXT
    )


@pytest.mark.django_db
class TestCall:
    def test_it_returns_the_answer_with_usage_stop_reason_and_timings(self, sandbox, outcomes):
        result = call()
        assert result.ok and result.error is None
        assert result.text
        assert result.usage.input_tokens and result.usage.output_tokens
        assert result.stop_reason in ("end_turn", "max_tokens")
        assert result.http_status == 200 and result.request_id
        t = result.timings
        assert t.sts_ms is not None and t.model_ms is not None
        assert t.total_ms >= t.sts_ms + t.model_ms - 1
        assert "x-tenant" in {h.lower() for h in sandbox.state.requests()[-1]["signed_headers"]}
        [(context, outcome)] = outcomes
        assert context is CONTEXT
        assert outcome.ok and outcome.input_tokens == result.usage.input_tokens
        assert outcome.request_id == result.request_id
        assert outcome.credentials_reused is False
        assert outcome.request_body is None  # the context did not opt in

    def test_it_says_when_credentials_are_reused_and_whose_they_were(self, sandbox, outcomes):
        first = call(session="console-first")
        second = call(session="console-second")
        assert first.credentials and not first.credentials.reused
        assert second.credentials and second.credentials.reused
        assert second.credentials.session_name == "console-first"
        assert second.credentials.assumed_at == first.credentials.assumed_at
        assert second.credentials.role_arn == DEMO_ROLE_ARN
        assert [o.credentials_reused for _, o in outcomes] == [False, True]

    def test_an_sts_failure_names_the_step_and_a_hint(self, sandbox, outcomes):
        result = call(Configuration(**{**CONFIG.__dict__, "external_id": "wrong-external-id"}))
        assert not result.ok and result.error
        assert (result.error.step, result.error.code) == (invoke.STS, "AccessDenied")
        assert "trust policy" in result.error.hint
        assert result.credentials is None and result.timings.model_ms is None
        [(_, outcome)] = outcomes
        assert (outcome.ok, outcome.error_code) == (False, "AccessDenied")

    def test_an_endpoint_outside_the_policy_is_never_called(self, sandbox, outcomes):
        result = call(Configuration(**{**CONFIG.__dict__, "endpoint": "http://127.0.0.2:1"}))
        assert result.error and result.error.code == invoke.ENDPOINT_NOT_ALLOWED
        assert result.error.step == invoke.INVOKE
        assert len(outcomes) == 1

    def test_an_answer_without_text_fails_at_the_read(self, sandbox, outcomes):
        result = call(paths=families.ResponsePaths("nothing.here"))
        assert result.error and result.error.step == invoke.EXTRACT
        assert result.error.code == invoke.NO_OUTPUT_TEXT
        assert result.raw and result.raw_bytes
        assert [o.error_code for _, o in outcomes] == [invoke.NO_OUTPUT_TEXT]

    def test_a_failing_observer_changes_nothing(self, sandbox, outcomes):
        def broken(context, outcome):
            raise RuntimeError("observer down")

        observe.add_observer(broken)
        try:
            assert call().ok
        finally:
            observe.remove_observer(broken)
        assert len(outcomes) == 1
