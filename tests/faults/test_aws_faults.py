"""STS and bedrock-runtime misbehaving: every test ends within its timeout, naming the step.

The worker here runs with AWS_CONNECT_TIMEOUT=1, AWS_READ_TIMEOUT=2 and AWS_MAX_ATTEMPTS=3.
"""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from integrations import services
from sandbox import DEMO_MODEL_ID
from tests.conftest import wait_for_test
from tests.faults.conftest import DEAD_ORIGIN, config
from tests.integrations.helpers import fresh_role

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Read timeout 2 s (+ connect 1 s) per call, two calls per test, plus worker pick-up.
BOUND = 10


@pytest.fixture
def worker(start_worker):
    return start_worker()


def _model(name: str) -> str:
    # Faults on bedrock-runtime match on the model id: one id per case, so they run side by side.
    return f"anthropic.claude-fault-{name}-v1:0"


def test_unreachable_hanging_and_broken_endpoints_fail_in_time_at_the_right_step(sandbox, worker):
    state = sandbox.state
    sts_hang, sts_html = fresh_role(sandbox), fresh_role(sandbox)
    state.add_fault("sts", "hang", match=sts_hang["role_arn"], seconds=30)
    state.add_fault("sts", "non_json", match=sts_html["role_arn"])
    for name, mode, extra in [
        ("hang", "hang", {"seconds": 30}),
        ("html", "non_json", {}),
        ("empty", "empty_object", {}),
        ("huge", "huge", {"mb": 50}),
        ("close", "close", {}),
    ]:
        state.add_fault("invoke", mode, match=_model(name), **extra)
    state.add_fault("invoke", "drip", match=DEMO_MODEL_ID, interval_ms=400)

    cases = {
        "sts unreachable": (config(sts_endpoint=DEAD_ORIGIN), "sts", "EndpointUnreachable"),
        "sts hanging": (config(**sts_hang), "sts", "ReadTimeout"),
        "sts not json": (config(**sts_html), "sts", "InvalidResponse"),
        "invoke unreachable": (config(endpoint=DEAD_ORIGIN), "invoke", "EndpointUnreachable"),
        "invoke hanging": (config(model_id=_model("hang")), "invoke", "ReadTimeout"),
        "invoke dripping": (config(), "invoke", "ResponseTimeout"),
        "invoke not json": (config(model_id=_model("html")), "invoke", "InvalidResponse"),
        "invoke empty object": (config(model_id=_model("empty")), "invoke", "NoOutputText"),
        "invoke 50 MB": (config(model_id=_model("huge")), "invoke", "ResponseTooLarge"),
        "invoke connection closed": (config(model_id=_model("close")), "invoke", None),
    }
    started = time.monotonic()
    tests = {name: services.start_test(c, None) for name, (c, _, _) in cases.items()}
    ended = {name: wait_for_test(t.pk, timeout=BOUND) for name, t in tests.items()}
    assert time.monotonic() - started < BOUND + 2
    for name, (_, step, code) in cases.items():
        test = ended[name]
        assert test.status == "failed", name
        assert test.failed_step == step, (name, test.failed_step, test.error_code)
        if code:
            assert test.error_code == code, (name, test.error_code, test.error_message)
        assert test.error_message and test.hint, name
        assert len(test.raw_response) <= settings.RAW_RESPONSE_LIMIT, name
        assert test.attempts == 1, name
    html = ended["invoke not json"]
    assert html.raw_response.startswith("<!DOCTYPE html>") and html.http_status == 200


def test_a_large_answer_is_stored_capped(sandbox, worker):
    sandbox.state.add_fault("invoke", "huge", match=_model("big"), mb=1)
    test = wait_for_test(services.start_test(config(model_id=_model("big")), None).pk, BOUND)
    assert test.raw_response_bytes == 1024 * 1024
    assert test.raw_response_truncated
    assert len(test.raw_response) == settings.RAW_RESPONSE_LIMIT


def test_throttling_is_retried_a_bounded_number_of_times_then_succeeds(sandbox, worker):
    sandbox.state.add_fault("invoke", "throttle", match=DEMO_MODEL_ID, times=2)
    test = wait_for_test(services.start_test(config(), None).pk, BOUND)
    assert test.status == "succeeded", (test.error_code, test.error_message)
    assert sandbox.state.stats()["invoke_calls"] == 3


def test_throttling_that_does_not_stop_fails_clearly_after_the_last_attempt(sandbox, worker):
    sandbox.state.add_fault("invoke", "throttle", match=DEMO_MODEL_ID, times=100)
    test = wait_for_test(services.start_test(config(), None).pk, BOUND)
    assert (test.status, test.failed_step) == ("failed", "invoke")
    assert test.error_code == "ThrottlingException"
    assert test.http_status == 429
    assert sandbox.state.stats()["invoke_calls"] == 3  # AWS_MAX_ATTEMPTS, no more


def test_an_expired_token_is_refreshed_once_and_the_test_succeeds(sandbox, worker):
    role = fresh_role(sandbox)
    sandbox.state.add_fault("invoke", "expired_once", match=DEMO_MODEL_ID, times=1)
    test = wait_for_test(services.start_test(config(**role), None).pk, BOUND)
    assert test.status == "succeeded", (test.error_code, test.error_message)
    assert sandbox.state.stats()["assume_role_calls_by_role"][role["role_arn"]] == 2


def test_a_token_that_keeps_expiring_is_refreshed_once_not_in_a_loop(sandbox, worker):
    role = fresh_role(sandbox)
    # Every new session key is refused once as expired: a loop would assume the role forever.
    sandbox.state.add_fault("invoke", "expired_once", match=DEMO_MODEL_ID)
    test = wait_for_test(services.start_test(config(**role), None).pk, BOUND)
    assert (test.status, test.failed_step) == ("failed", "invoke")
    assert test.error_code == "ExpiredTokenException"
    stats = sandbox.state.stats()
    assert stats["assume_role_calls_by_role"][role["role_arn"]] == 2
    assert stats["invoke_calls"] == 2
