"""The console pages: list, new (with the model's starting point), edit, variables as one types."""

import json

import pytest

from prompts_library.models import Feature, Prompt
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import CLAUDE_PATH, CLAUDE_TEMPLATE, make_prompt

HTMX = {"HTTP_HX_REQUEST": "true"}


def form_data(integration, **overrides):
    data = {
        "name": "Support answer",
        "integration": integration.pk,
        "feature": Feature.objects.get(name="Co-pilot").pk,
        "request_template": CLAUDE_TEMPLATE,
        "response_path": CLAUDE_PATH,
        "input_tokens_path": "usage.input_tokens",
        "output_tokens_path": "usage.output_tokens",
        "sample_question": 'Say "hi"',
        "sample_max_tokens": "64",
        "change_note": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestAccess:
    @pytest.mark.parametrize("url", ["/prompts/", "/prompts/new/", "/prompts/tokens/"])
    def test_strangers_are_sent_to_login_and_charlie_refused(self, client, charlie, url):
        assert client.get(url).status_code == 302
        client.force_login(charlie)
        r = client.get(url)
        assert r.status_code == 403

    def test_bob_as_staff_sees_the_library(self, client, bob):
        client.force_login(bob)
        assert client.get("/prompts/").status_code == 200


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


@pytest.mark.django_db
class TestAsYouType:
    def test_sample_fields_follow_the_variables_and_keep_their_values(self, alice_client):
        data = form_data(make_integration(), request_template='{"a": "{{question}} {{tone}}"}')
        r = alice_client.post("/prompts/variables/", data, **HTMX)
        assert "Sample: question" in r.text and "Sample: tone" in r.text
        assert "Sample: max_tokens" not in r.text
        assert "Say &quot;hi&quot;" in r.text
        assert "<html" not in r.text

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
class TestEdit:
    def test_edit_shows_the_latest_version_and_saves_a_new_one(self, alice_client, alice, bob):
        prompt = make_prompt(alice)
        r = alice_client.get(f"/prompts/{prompt.pk}/edit/")
        assert "Sample: question" in r.text and "Say &quot;hi&quot;" in r.text
        data = form_data(prompt.integration, name="Renamed", change_note="shorter")
        alice_client.force_login(bob)
        r = alice_client.post(f"/prompts/{prompt.pk}/edit/", data)
        assert r.status_code == 302
        v2 = prompt.versions.get(number=2)
        assert (v2.author, v2.change_note) == (bob, "shorter")
        prompt.refresh_from_db()
        assert prompt.name == "Renamed" and prompt.published_version.number == 1

    def test_list_shows_prompts_and_what_is_published(self, alice_client, alice):
        first = make_prompt(alice)
        make_prompt(alice, name="Draft", published=False, integration=first.integration)
        r = alice_client.get("/prompts/")
        assert "Support answer" in r.text and "v1" in r.text
        assert "Not published" in r.text
