"""Test on unsaved values: the editing page's Test runs the form as it is, saving nothing."""

import json

import pytest

from prompts_library.models import PromptTest
from tests.conftest import wait_for_test
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import CLAUDE_TEMPLATE, make_prompt
from tests.prompts.helpers import HTMX, form_data

DRAFT = CLAUDE_TEMPLATE.replace('"{{question}}"', '"Draft: {{question}}"')


@pytest.mark.django_db
class TestTheForm:
    def test_invalid_values_say_what_to_fix_and_start_nothing(self, alice_client, alice):
        prompt = make_prompt(alice)
        data = form_data(prompt.integration, request_template="{not json")
        r = alice_client.post(f"/prompts/{prompt.pk}/test/", data, **HTMX)
        assert r.status_code == 200 and "Fix the form first" in r.text
        assert "Request JSON" in r.text
        assert not PromptTest.objects.exists()


@pytest.mark.django_db(transaction=True)
class TestOnTheWorker:
    def test_the_unsaved_values_run_without_a_new_version(
        self, alice_client, alice, sandbox, celery_worker
    ):
        prompt = make_prompt(alice)
        other = make_integration(name="Sonnet")
        data = form_data(
            other,
            request_template=DRAFT,
            sample_question='quote " and\r\nnewline',
            response_path="content[0].text",
            input_tokens_path="",
        )
        r = alice_client.post(f"/prompts/{prompt.pk}/test/", data, **HTMX)
        assert r.status_code == 200
        test = PromptTest.objects.get()
        assert test.version is None and test.is_draft
        assert test.integration == other
        assert json.loads(test.rendered_request)["messages"][0]["content"] == (
            'Draft: quote " and\nnewline'
        )
        assert prompt.versions.count() == 1
        done = wait_for_test(test.pk, model=PromptTest)
        assert done.status == "succeeded", (done.error_code, done.error_message)
        assert done.extracted_text.endswith('You said: Draft: quote " and\nnewline')
        assert done.response_path == "content[0].text"

        status = alice_client.get(f"/prompts/tests/{test.pk}/")
        assert "unsaved values" in status.text and f"on {other}" in status.text
        assert 'data-path="content[0].text"' in status.text
        detail = alice_client.get(f"/prompts/{prompt.pk}/")
        assert "unsaved" in detail.text
