"""bedrock.client against the sandbox over HTTP with real boto3: caching, SigV4, retries, refresh."""

import threading

import pytest

from bedrock import client
from sandbox import DEMO_EXTERNAL_ID, DEMO_MODEL_ID, DEMO_ROLE_ARN
from tests.conftest import SANDBOX_URL

BODY = b'{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"Hi"}]}'


def assume(session="console-test"):
    return client.assume_role(DEMO_ROLE_ARN, DEMO_EXTERNAL_ID, SANDBOX_URL, session)


def invoke(creds, model=DEMO_MODEL_ID, headers=()):
    return client.invoke_model(SANDBOX_URL, model, BODY, headers, creds, keep_bytes=1000)


@pytest.mark.django_db
class TestAssumeRole:
    def test_it_caches_credentials_until_near_expiry(self, sandbox, settings):
        first = assume()
        second = assume()
        assert not first.cached and second.cached
        assert second.credentials == first.credentials
        assert sandbox.state.stats()["assume_role_calls"] == 1
        settings.ASSUME_ROLE_REFRESH_MARGIN = settings.ASSUME_ROLE_DURATION + 60
        assert not assume().cached
        assert sandbox.state.stats()["assume_role_calls"] == 2

    def test_fifty_concurrent_callers_make_one_sts_call(self, sandbox):
        sandbox.state.set_config(sts_delay_ms=200)
        results = []
        threads = [threading.Thread(target=lambda: results.append(assume())) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 50
        assert sandbox.state.stats()["assume_role_calls"] == 1
        assert sum(not r.cached for r in results) == 1

    def test_it_asks_for_a_session_long_enough_not_to_reassume_every_call(self, sandbox, settings):
        creds = assume().credentials
        assert settings.ASSUME_ROLE_DURATION >= 900 + settings.ASSUME_ROLE_REFRESH_MARGIN
        assert creds.fresh(settings.ASSUME_ROLE_REFRESH_MARGIN)

    def test_throttling_is_retried_with_backoff_then_succeeds(self, sandbox):
        sandbox.state.add_fault("sts", "throttle", match=DEMO_ROLE_ARN, times=2)
        result = assume()
        assert result.retries == 2
        assert sandbox.state.stats()["assume_role_calls"] >= 1

    def test_throttling_beyond_the_attempts_fails_clearly(self, sandbox, settings):
        sandbox.state.add_fault("sts", "throttle", match=DEMO_ROLE_ARN, times=10)
        with pytest.raises(client.AwsCallFailed) as e:
            assume()
        assert e.value.code == "Throttling"

    def test_an_endpoint_outside_the_policy_is_never_called(self, sandbox):
        from bedrock.values import InvalidValue

        with pytest.raises(InvalidValue):
            client.assume_role(DEMO_ROLE_ARN, DEMO_EXTERNAL_ID, "http://127.0.0.2:1", "s")


@pytest.mark.django_db
class TestInvoke:
    def test_it_signs_with_sigv4_even_with_a_bearer_token_in_the_environment(
        self, sandbox, monkeypatch
    ):
        monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "a-bearer-token")
        client.reset_caches(clients=True)
        try:
            result = invoke(assume().credentials)
        finally:
            client.reset_caches(clients=True)
        assert result.http_status == 200

    def test_extra_headers_are_signed(self, sandbox):
        invoke(assume().credentials, headers=[("X-Tenant", "acme")])
        assert "x-tenant" in {h.lower() for h in sandbox.state.requests()[-1]["signed_headers"]}

    def test_an_expired_token_is_reported_with_its_code(self, sandbox):
        creds = assume().credentials
        sandbox.state.expire_credentials(creds.access_key_id)
        with pytest.raises(client.AwsCallFailed) as e:
            invoke(creds)
        assert e.value.code == "ExpiredTokenException"

    def test_a_huge_answer_is_cut_off(self, sandbox):
        sandbox.state.add_fault("invoke", "huge", match=DEMO_MODEL_ID, mb=3)
        with pytest.raises(client.AwsCallFailed) as e:
            client.invoke_model(
                SANDBOX_URL,
                DEMO_MODEL_ID,
                BODY,
                (),
                assume().credentials,
                keep_bytes=10,
                max_bytes=1_000_000,
            )
        assert e.value.code == "ResponseTooLarge"

    def test_a_dripping_answer_ends_at_the_deadline(self, sandbox):
        sandbox.state.add_fault("invoke", "drip", match=DEMO_MODEL_ID, interval_ms=200)
        with pytest.raises(client.AwsCallFailed) as e:
            client.invoke_model(
                SANDBOX_URL,
                DEMO_MODEL_ID,
                BODY,
                (),
                assume().credentials,
                keep_bytes=10,
                deadline_s=1.0,
            )
        assert e.value.code in ("ResponseTimeout", "ReadTimeout")
