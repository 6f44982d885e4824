"""Editing an integration: the API model name (the OpenAI-compatible API's `model`)."""

import pytest

from integrations.models import BedrockModel, suggest_api_name
from tests.integrations.fixtures import make_integration
from tests.integrations.helpers import form_data

pytestmark = pytest.mark.django_db


def test_the_api_model_name_is_editable_without_a_new_test(alice_client):
    integration = make_integration()
    page = alice_client.get(f"/integrations/{integration.pk}/edit/").text
    assert 'value="bedrock-anthropic-haiku"' in page
    r = alice_client.post(
        f"/integrations/{integration.pk}/edit/", form_data(api_name="Support-Bot")
    )
    assert r.status_code == 302, r.content
    integration.refresh_from_db()
    assert integration.api_name == "support-bot"  # a slug, lower case


def test_an_empty_api_model_name_keeps_the_one_it_has(alice_client):
    integration = make_integration()
    integration.api_name = "kept"
    integration.save(update_fields=["api_name"])
    r = alice_client.post(f"/integrations/{integration.pk}/edit/", form_data(api_name=""))
    assert r.status_code == 302
    integration.refresh_from_db()
    assert integration.api_name == "kept"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("other-corp-sonnet", "Another integration is called other-corp-sonnet already."),
        ("has space", "Use letters, digits, - and _ only"),
        ("dots.are.out", "Use letters, digits, - and _ only"),
        ("-leading", "Use letters, digits, - and _ only"),
    ],
)
def test_a_taken_or_malformed_api_model_name_is_refused_beside_the_field(
    alice_client, value, message
):
    integration = make_integration()
    make_integration(provider="Other Corp", name="Sonnet")
    r = alice_client.post(f"/integrations/{integration.pk}/edit/", form_data(api_name=value))
    assert r.status_code == 400 and message in r.text
    assert 'id="errors-api_name"' in r.text
    integration.refresh_from_db()
    assert integration.api_name == "bedrock-anthropic-haiku"


def test_derived_names_are_slugs_and_never_collide():
    first = make_integration(provider="Bedrock Anthropic", name="Claude 3.5 Sonnet")
    second = make_integration(provider="Bedrock-Anthropic", name="Claude 3-5 Sonnet")
    assert first.api_name == "bedrock-anthropic-claude-35-sonnet"
    assert second.api_name == "bedrock-anthropic-claude-3-5-sonnet"
    assert suggest_api_name("Bedrock Anthropic", "Claude 3.5 Sonnet") == (
        "bedrock-anthropic-claude-35-sonnet-2"
    )
    assert suggest_api_name("", "!!!") == "model"
    assert BedrockModel.objects.count() == 2


def test_a_taken_api_model_name_does_not_stop_a_test(alice_client):
    from integrations.models import ConnectionTest

    make_integration(provider="Other Corp", name="Sonnet")
    before = ConnectionTest.objects.count()
    r = alice_client.post(
        "/integrations/test/", form_data(api_name="other-corp-sonnet"), HTTP_HX_REQUEST="true"
    )
    assert "Another integration is called other-corp-sonnet already." in r.text
    assert ConnectionTest.objects.count() == before + 1
