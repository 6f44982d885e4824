"""A prompt's Test: rendered with the samples, run on the real worker through the sandbox."""

import json

import pytest

from prompts_library import services
from prompts_library.models import PromptTest
from tests.conftest import wait_for_test
from tests.prompts.fixtures import make_prompt

HTMX = {"HTTP_HX_REQUEST": "true"}


def wait_for_prompt_test(pk, timeout=30):
    return wait_for_test(pk, timeout, model=PromptTest)


@pytest.mark.django_db(transaction=True)
class TestOnTheWorker:
    def test_it_renders_the_samples_and_extracts_the_text(self, alice, sandbox, celery_worker):
        prompt = make_prompt(alice)
        test = services.start_test(prompt, prompt.versions.get(), alice)
        body = json.loads(test.rendered_request)
        assert body["messages"][0]["content"] == 'Say "hi"\nto me'
        assert body["max_tokens"] == 64
        done = wait_for_prompt_test(test.pk)
        assert done.status == "succeeded", (done.error_code, done.error_message)
        assert 'You said: Say "hi"' in done.extracted_text
        assert done.input_tokens and done.output_tokens
        assert done.sts_ms is not None and done.invoke_ms is not None
        assert json.loads(done.raw_response)["type"] == "message"
        assert done.request_id

    def test_an_empty_response_says_why_nothing_was_extracted(self, alice, sandbox, celery_worker):
        sandbox.state.add_fault("invoke", "empty_object", match="*", times=1)
        prompt = make_prompt(alice)
        done = wait_for_prompt_test(services.start_test(prompt, prompt.versions.get(), alice).pk)
        assert (done.status, done.failed_step) == ("failed", "extract")
        assert done.raw_response == "{}"
        assert "empty JSON object" in done.extraction_error

    def test_a_wrong_response_path_says_what_it_found(self, alice, sandbox, celery_worker):
        prompt = make_prompt(alice, response_path="usage")
        done = wait_for_prompt_test(services.start_test(prompt, prompt.versions.get(), alice).pk)
        assert done.failed_step == "extract"
        assert "JSON object, not text" in done.extraction_error
        assert done.input_tokens is not None

    def test_a_denied_model_fails_with_the_integrations_hint(self, alice, sandbox, celery_worker):
        sandbox.state.add_fault(
            "invoke", "error", match="*", code="AccessDeniedException", status=403, times=1
        )
        prompt = make_prompt(alice)
        done = wait_for_prompt_test(services.start_test(prompt, prompt.versions.get(), alice).pk)
        assert (done.failed_step, done.error_code, done.http_status) == (
            "invoke",
            "AccessDeniedException",
            403,
        )
        assert "permission policy" in done.hint
