"""A prompt's Test: rendered with the samples, run on the real worker through the sandbox."""

import json

import pytest

from audit.models import AuditEvent
from integrations.models import BedrockModel
from prompts_library import services
from prompts_library.models import PromptTest
from tests.conftest import wait_for_test
from tests.integrations.helpers import fresh_role
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

    def test_a_result_says_whether_credentials_were_assumed_or_reused(
        self, alice, alice_client, sandbox, celery_worker
    ):
        prompt = make_prompt(alice)
        # a role no worker has assumed yet, so the first test assumes it
        BedrockModel.objects.filter(pk=prompt.integration_id).update(**fresh_role(sandbox))
        version = prompt.versions.get()
        first = wait_for_prompt_test(services.start_test(prompt, version, alice).pk)
        second = wait_for_prompt_test(services.start_test(prompt, version, alice).pk)
        assert first.status == second.status == "succeeded"
        assert (first.credentials_cached, second.credentials_cached) == (False, True)
        assert second.credentials_assumed_at == first.credentials_assumed_at is not None
        assert second.credentials_session == first.credentials_session != ""
        r = alice_client.get(f"/prompts/tests/{second.pk}/", **HTMX)
        when = second.credentials_assumed_at.strftime("%Y-%m-%d %H:%M:%S")
        assert f"Reused: assumed at {when} UTC by an earlier call" in r.text
        assert f"session <code>{second.credentials_session}</code>" in r.text
        r = alice_client.get(f"/prompts/tests/{first.pk}/", **HTMX)
        assert "Assumed for this test" in r.text and "Reused" not in r.text
        finished = AuditEvent.objects.filter(action=AuditEvent.Action.TEST_FINISHED)
        meta = next(e.changes for e in finished if e.changes.get("test_id") == second.pk)
        assert meta["credentials"] == "reused"
        assert meta["assumed_role_arn"] == second.assumed_role_arn

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
