"""The New prompt page: labels, the model's starting point, creating version 1."""

import pytest

from prompts_library.models import Prompt
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import CLAUDE_PATH
from tests.prompts.helpers import form_data


@pytest.mark.django_db
class TestNew:
    def test_the_form_has_the_labels(self, alice_client):
        r = alice_client.get("/prompts/new/")
        for label in (
            "Name",
            "Model",
            "Feature",
            "Request JSON",
            "Response path",
            "Token usage paths",
            "Input tokens",
            "Output tokens",
        ):
            assert f">{label}<" in r.text, label

    def test_the_model_preselects_and_prefills_from_its_family(self, alice_client):
        integration = make_integration()
        r = alice_client.get(f"/prompts/new/?model={integration.pk}")
        assert f'<option value="{integration.pk}" selected>' in r.text
        assert "anthropic_version" in r.text and "{{input}}" in r.text
        assert CLAUDE_PATH.replace("'", "&#x27;") in r.text
        assert "Sample: input" in r.text

    def test_the_integration_page_links_here(self, alice_client):
        integration = make_integration()
        r = alice_client.get(f"/integrations/{integration.pk}/")
        assert f"/prompts/new/?model={integration.pk}" in r.text

    def test_creating_makes_version_one(self, alice_client, alice):
        integration = make_integration()
        r = alice_client.post("/prompts/new/", form_data(integration))
        prompt = Prompt.objects.get()
        assert r.status_code == 302 and r["Location"] == f"/prompts/{prompt.pk}/"
        v = prompt.versions.get()
        assert (v.number, v.author, v.samples) == (
            1,
            alice,
            {"max_tokens": "64", "question": 'Say "hi"'},
        )

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("request_template", '{"a": ', "not valid JSON"),
            ("request_template", "[1]", "JSON object"),
            ("response_path", "content[?", "not valid JMESPath"),
            ("input_tokens_path", "usage.[", "not valid JMESPath"),
            ("name", "", "required"),
        ],
    )
    def test_bad_values_are_explained_beside_the_field(self, alice_client, field, value, message):
        r = alice_client.post("/prompts/new/", form_data(make_integration(), **{field: value}))
        assert r.status_code == 400
        assert message in r.text
        assert not Prompt.objects.exists()
