"""Test of a saved version through the real worker."""

import pytest

from prompts_library.models import PromptTest
from tests.prompts.fixtures import make_prompt
from tests.prompts.helpers import HTMX
from tests.prompts.test_prompt_test import wait_for_prompt_test


@pytest.mark.django_db(transaction=True)
class TestTestButton:
    def test_it_runs_on_the_worker_and_shows_the_extracted_text(
        self, alice_client, alice, sandbox, celery_worker
    ):
        prompt = make_prompt(alice)
        r = alice_client.post(f"/prompts/{prompt.pk}/versions/1/test/", **HTMX)
        test = PromptTest.objects.get()
        assert f'sse-connect="/prompts/tests/{test.pk}/events/?seen=' in r.text
        assert "Say \\&quot;hi\\&quot;\\nto me" in r.text  # the rendered request, JSON-escaped
        wait_for_prompt_test(test.pk)
        r = alice_client.get(f"/prompts/tests/{test.pk}/", **HTMX)
        assert "Success" in r.text and "You said: Say &quot;hi&quot;" in r.text
        assert "sse-connect" not in r.text
        page = alice_client.get(f"/prompts/{prompt.pk}/")
        assert "Test history" in page.text and "Success" in page.text

    def test_samples_that_do_not_render_are_explained(self, alice_client, alice):
        prompt = make_prompt(alice, samples={"question": "q"})
        r = alice_client.post(f"/prompts/{prompt.pk}/versions/1/test/", **HTMX)
        assert "Not started" in r.text and "max_tokens" in r.text
        assert not PromptTest.objects.exists()
