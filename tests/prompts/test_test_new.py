"""Test before create: the new prompt page's Test runs its values on the chosen model."""

import json

import pytest

from prompts_library.models import Feature, Prompt, PromptTest
from tests.conftest import wait_for_test
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import make_prompt
from tests.prompts.helpers import HTMX, form_data


@pytest.mark.django_db
class TestThePage:
    def test_the_new_page_has_test_beside_create(self, alice_client):
        page = alice_client.get("/prompts/new/").text
        assert 'hx-post="/prompts/new/test/"' in page
        assert 'id="test-result"' in page and "Create prompt" in page

    def test_invalid_values_say_what_to_fix_and_start_nothing(self, alice_client):
        data = form_data(make_integration(), request_template="{not json")
        r = alice_client.post("/prompts/new/test/", data, **HTMX)
        assert r.status_code == 200 and "Fix the form first" in r.text
        assert "Request JSON" in r.text
        assert not PromptTest.objects.exists()

    def test_charlie_without_a_role_is_refused(self, client, charlie):
        client.force_login(charlie)
        r = client.post("/prompts/new/test/", {}, **HTMX)
        assert r.status_code == 403

    def test_the_prompt_page_shows_the_versions_sample_values(self, alice_client, alice):
        prompt = make_prompt(alice)
        page = alice_client.get(f"/prompts/{prompt.pk}/").text
        assert "Sample values (v1)" in page
        assert "Say &quot;hi&quot;\nto me" in page


@pytest.mark.django_db(transaction=True)
def test_the_values_run_before_the_prompt_exists(alice_client, alice, sandbox, celery_worker):
    Feature.objects.get_or_create(name="Co-pilot")  # a flush by an earlier test removes it
    integration = make_integration()
    # Name and feature can come after the Test: only what the call needs is required.
    data = form_data(integration, name="", feature="", sample_question="Before create")
    r = alice_client.post("/prompts/new/test/", data, **HTMX)
    assert r.status_code == 200
    test = PromptTest.objects.get()
    assert test.prompt is None and test.integration == integration
    assert json.loads(test.rendered_request)["messages"][0]["content"] == "Before create"
    done = wait_for_test(test.pk, model=PromptTest)
    assert done.status == "succeeded", (done.error_code, done.error_message)
    assert done.extracted_text.endswith("You said: Before create")
    assert not Prompt.objects.exists()

    status = alice_client.get(f"/prompts/tests/{test.pk}/")
    assert status.status_code == 200 and "A new prompt" in status.text
    partial = alice_client.get(f"/prompts/tests/{test.pk}/", **HTMX)
    assert partial.status_code == 200 and "Success" in partial.text
