"""Choosing a model on the prompt form: the starting point and what a change affects."""

import json

import pytest

from tests.integrations.fixtures import make_integration
from tests.prompts.helpers import HTMX, form_data


@pytest.mark.django_db
class TestAssist:
    def test_choosing_a_model_prefills_an_empty_request(self, alice_client):
        nova = make_integration(name="Nova")
        nova.model_id = "amazon.nova-lite-v1:0"
        nova.save(update_fields=["model_id"])
        r = alice_client.post(
            "/prompts/assist/", {"integration": nova.pk, "request_template": ""}, **HTMX
        )
        fields = json.loads(r.headers["HX-Trigger"])["consoleSuggest"]["fields"]
        assert "inferenceConfig" in json.loads(fields["request_template"])
        assert fields["response_path"] == "output.message.content[0].text"
        assert "textarea" not in r.text  # data for the page, never inputs that would replace

    def test_choosing_a_model_keeps_a_request_the_admin_wrote(self, alice_client):
        integration = make_integration()
        r = alice_client.post(
            "/prompts/assist/",
            {"integration": integration.pk, "request_template": '{"mine": "{{x}}"}'},
            **HTMX,
        )
        assert r.text.strip() == ""
        assert json.loads(r.headers["HX-Trigger"])["consoleSuggest"]["fields"] == {}


@pytest.mark.django_db
class TestModelChange:
    def test_choosing_another_model_on_the_edit_page_shows_what_it_affects(
        self, alice_client, prompts
    ):
        published = prompts[1]
        other = make_integration(name="Sonnet")
        data = {**form_data(other), "prompt": published.pk}
        r = alice_client.post("/prompts/assist/", data, **HTMX)
        assert 'id="model-change" hx-swap-oob="true"' in r.text
        assert "Saving moves the published version v1" in r.text
        assert f'hx-post="/prompts/{published.pk}/retest-on-model/"' in r.text
        # back to its own model: the notice goes away
        same = {**form_data(published.integration), "prompt": published.pk}
        r = alice_client.post("/prompts/assist/", same, **HTMX)
        assert 'id="model-change" hx-swap-oob="true"></div>' in r.text
