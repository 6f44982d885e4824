"""A prompt written in the Converse format runs unchanged on models of different families."""

import dataclasses
import json

import pytest

from bedrock import families
from integrations.models import BedrockModel
from prompts_library import export_file, transfer
from prompts_library.import_check import TransferError
from prompts_library.models import ApiToken, Feature, Prompt
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import make_prompt
from tests.prompts.helpers import form_data

CONVERSE_TEMPLATE = """{
  "system": [{"text": "You are terse."}],
  "messages": [{"role": "user", "content": [{"text": "{{question}}"}]}],
  "inferenceConfig": {"maxTokens": {{max_tokens}}}
}"""


def converse_integration(name: str, model_id: str) -> BedrockModel:
    integration = make_integration(provider="Bedrock", name=name)
    config = dataclasses.replace(
        integration.configuration(),
        model_id=model_id,
        request_format="converse",
        request_json=families.converse_request_json(),
    )
    integration.apply(config)
    integration.save()
    integration.tests.update(fingerprint=integration.fingerprint)
    return integration


@pytest.mark.django_db
def test_one_converse_prompt_runs_unchanged_on_two_families(client, sandbox, alice, bob):
    token = ApiToken.issue("Co-pilot backend", bob, all_prompts=True)[1]
    claude = converse_integration("Claude", "anthropic.claude-3-haiku-20240307-v1:0")
    llama = converse_integration("Llama", "meta.llama3-8b-instruct-v1:0")
    texts = []
    for integration in (claude, llama):
        prompt = make_prompt(
            alice,
            name=f"Ask {integration.name}",
            integration=integration,
            request_template=CONVERSE_TEMPLATE,
            response_path="",
            input_tokens_path="",
            output_tokens_path="",
        )
        r = client.post(
            f"/api/v1/prompts/{prompt.slug}/invoke",
            json.dumps({"question": 'Say "hi"', "max_tokens": 100}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert r.status_code == 200, r.content
        data = r.json()
        assert data["usage"]["input_tokens"] and data["usage"]["output_tokens"]
        texts.append(data["text"])
        request = sandbox.state.requests()[-1]
        assert (request["operation"], request["model_id"]) == ("Converse", integration.model_id)
    assert texts[0] == texts[1] == 'Hello from the Bedrock sandbox. You said: Say "hi"'


@pytest.mark.django_db
def test_the_response_path_is_needed_only_for_the_models_own_json(alice_client):
    Feature.objects.get_or_create(name="Co-pilot")
    converse = converse_integration("Claude", "anthropic.claude-3-haiku-20240307-v1:0")
    r = alice_client.post(
        "/prompts/new/",
        form_data(converse, request_template=CONVERSE_TEMPLATE, response_path=""),
    )
    assert r.status_code == 302, r.text
    assert Prompt.objects.get().versions.get().response_path == ""
    own_json = make_integration(provider="Bedrock", name="Haiku own JSON")
    r = alice_client.post("/prompts/new/", form_data(own_json, name="Other", response_path=""))
    assert r.status_code == 400
    assert "This field is required." in r.text
    assert Prompt.objects.count() == 1


@pytest.mark.django_db
def test_an_export_file_carries_the_request_format(alice):
    converse_integration("Claude", "anthropic.claude-3-haiku-20240307-v1:0")
    data = export_file.export_data()
    [item] = data["integrations"]
    assert item["request_format"] == "converse"
    BedrockModel.objects.all().delete()
    transfer.import_data(data, user=alice)
    assert BedrockModel.objects.get().request_format == "converse"
    item["request_json"] = '{"anthropic_version": "bedrock-2023-05-31"}'
    with pytest.raises(TransferError, match=r"request_json: A Converse request has no field"):
        transfer.import_data(data, user=alice)


@pytest.mark.django_db
def test_a_new_prompt_on_a_converse_integration_starts_from_a_converse_request(alice_client):
    integration = converse_integration("Claude", "anthropic.claude-3-haiku-20240307-v1:0")
    r = alice_client.get(f"/prompts/new/?model={integration.pk}")
    assert "inferenceConfig" in r.text and "{{input}}" in r.text
    assert "anthropic_version" not in r.text
