"""A streamed Test: the worker streams the answer, the page's stream sends the text as it grows."""

import pytest

from integrations import services
from tests.conftest import wait_for_test
from tests.integrations.fixtures import make_integration
from tests.integrations.test_test_events import alice_http, events  # noqa: F401

pytestmark = pytest.mark.worker


def follow(http, pk: int) -> tuple[list[str], str]:
    """Follow a test's streams as the page does: every `text` event, then the final part."""
    seen, texts = "queued", []
    while True:
        got = events(http, f"/integrations/tests/{pk}/events/?seen={seen}")
        texts += [data for name, data, _ in got if name == "text"]
        [part] = [data for name, data, _ in got if name == "status"]
        if "sse-connect" not in part.split(">")[0]:
            return texts, part
        seen = part.split('data-status="')[1].split('"')[0]


def test_a_streamed_test_shows_several_partial_texts_before_the_final_one(
    alice_http,  # noqa: F811
    alice,
    celery_worker,
    sandbox,
):
    sandbox.state.set_config(stream_interval_ms=80)
    integration = make_integration(tested=False)
    test = services.start_test(integration.configuration(), alice, integration, stream=True)
    texts, final = follow(alice_http, test.pk)
    done = wait_for_test(test.pk)
    assert done.status == "succeeded", (done.error_code, done.error_message)
    assert done.output_text.startswith("Hello from the Bedrock sandbox. You said: Hi")
    partial = [t.split('<p class="output streaming">')[1].split("</p>")[0] for t in texts]
    growing = [p for p in partial if p]
    assert len(set(growing)) >= 3, partial
    assert all(done.output_text.startswith(p) for p in growing)
    assert "First token after" in texts[-1]
    assert done.first_token_ms is not None and done.tokens_per_second
    assert "Time to first token" in final and "Tokens per second" in final
    assert sandbox.state.requests()[-1]["operation"] == "InvokeModelWithResponseStream"


def test_a_broken_stream_fails_with_its_code_and_hint_and_shows_what_arrived(
    alice_http,  # noqa: F811
    alice,
    celery_worker,
    sandbox,
):
    sandbox.state.add_fault("invoke", "stream_error", after=3, code="modelStreamErrorException")
    integration = make_integration(tested=False)
    test = services.start_test(integration.configuration(), alice, integration, stream=True)
    _, final = follow(alice_http, test.pk)
    done = wait_for_test(test.pk)
    assert (done.status, done.failed_step) == ("failed", "invoke")
    assert done.error_code == "ModelStreamErrorException"
    assert "stream broke" in done.hint
    assert done.output_text == "Hello from the"
    assert "Received before the error" in final and "Hello from the" in final
    assert "ModelStreamErrorException" in final
