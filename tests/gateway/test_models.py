"""GET /api/v1/models: the integrations the token may use, in OpenAI's list shape."""

import openai
import pytest

from prompts_library import tokens
from tests.gateway.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_lists_only_the_integrations_the_token_may_use(gpt, haiku, other):
    listed = gpt.models.list()
    assert [m.id for m in listed] == ["bedrock-anthropic-haiku"]
    model = listed.data[0]
    assert model.object == "model" and model.owned_by == "Bedrock Anthropic"
    assert model.created == int(haiku.created.timestamp())


def test_all_integrations_covers_those_saved_later(live_server, bob, haiku):
    plaintext = tokens.issue_token("Everything", bob, all_integrations=True)[1]
    gpt = client_for(live_server, plaintext)
    assert [m.id for m in gpt.models.list()] == ["bedrock-anthropic-haiku"]
    from tests.integrations.fixtures import make_integration

    make_integration(provider="Other Corp", name="Sonnet")
    assert [m.id for m in gpt.models.list()] == ["bedrock-anthropic-haiku", "other-corp-sonnet"]


def test_a_token_for_prompts_only_lists_nothing(client, bob, haiku):
    plaintext = tokens.issue_token("Prompts", bob, all_prompts=True)[1]
    r = client.get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert r.status_code == 200 and r.json() == {"object": "list", "data": []}


def test_one_model_is_retrieved_when_allowed(gpt, haiku, other):
    assert gpt.models.retrieve("bedrock-anthropic-haiku").id == "bedrock-anthropic-haiku"
    with pytest.raises(openai.PermissionDeniedError):
        gpt.models.retrieve("other-corp-sonnet")
    with pytest.raises(openai.NotFoundError):
        gpt.models.retrieve("no-such-model")


def test_without_a_valid_token_it_is_401_in_openais_shape(client, token):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer bcp_wrong"}):
        r = client.get("/api/v1/models", **headers)
        assert r.status_code == 401
        assert r.json() == {
            "error": {
                "message": r.json()["error"]["message"],
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
    tokens.revoke_token(tokens.ApiToken.objects.get().pk)
    r = client.get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 401


def test_only_get_is_allowed(client, token):
    r = client.post("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 405 and r["Allow"] == "GET"
    assert r.json()["error"]["code"] == "method_not_allowed"
