"""Token scopes fail closed: "All prompts" is a choice, and deleting what a token was limited
to leaves it allowed nothing, never every prompt."""

import importlib

import pytest
from django.apps import apps

from prompts_library import tokens
from prompts_library.models import ApiToken, Feature
from tests.prompts.fixtures import make_prompt
from tests.prompts.test_api import assert_error, invoke

BODY = {"question": "q", "max_tokens": 5}

# Transactional: the Invoke API records its calls on a helper thread, with its own connection.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def prompt(alice):
    return make_prompt(alice)


def test_a_token_limited_to_a_deleted_feature_allows_nothing(
    client, sandbox, prompt, alice, alice_client
):
    spare = Feature.objects.create(name="Retired")
    row, token = tokens.issue_token("retired only", alice, features=[spare])
    assert_error(invoke(client, prompt.slug, BODY, token), 403, "forbidden")
    r = alice_client.post(f"/admin/prompts_library/feature/{spare.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302 and not Feature.objects.filter(pk=spare.pk).exists()
    assert not row.allows(prompt)
    assert_error(invoke(client, prompt.slug, BODY, token), 403, "forbidden")
    page = alice_client.get("/prompts/tokens/")
    assert "the prompts, features and integrations it was limited to were deleted" in page.text
    admin_page = alice_client.get(f"/admin/prompts_library/apitoken/{row.pk}/change/")
    assert (
        "Nothing: the prompts, features and integrations it was limited to were deleted"
        in admin_page.text
    )


def test_a_token_limited_to_a_deleted_prompt_allows_nothing(client, sandbox, prompt, alice):
    other = make_prompt(alice, name="Other", integration=prompt.integration)
    row, token = tokens.issue_token("other only", alice, prompts=[other])
    assert invoke(client, other.slug, BODY, token).status_code == 200
    other.delete()
    assert row.allows_nothing and not row.allows(prompt)
    assert_error(invoke(client, prompt.slug, BODY, token), 403, "forbidden")


def test_all_prompts_is_a_choice_and_covers_later_prompts(client, sandbox, prompt, alice):
    _, token = tokens.issue_token("everything", alice, all_prompts=True)
    later = make_prompt(alice, name="Later", integration=prompt.integration)
    assert invoke(client, later.slug, BODY, token).status_code == 200
    with pytest.raises(tokens.ScopeError):
        tokens.issue_token("nothing chosen", alice)
    with pytest.raises(tokens.ScopeError):
        tokens.issue_token("both", alice, [prompt], all_prompts=True)
    assert ApiToken.objects.count() == 1


def test_the_form_asks_for_a_scope(alice_client, prompt):
    r = alice_client.post("/prompts/tokens/", {"name": "backend"})
    assert r.status_code == 400 and tokens.NEITHER in r.text and not r.context["created"]
    r = alice_client.post(
        "/prompts/tokens/", {"name": "backend", "all_prompts": "on", "prompts": [prompt.pk]}
    )
    assert r.status_code == 400 and tokens.BOTH in r.text
    assert not ApiToken.objects.exists()
    r = alice_client.post("/prompts/tokens/", {"name": "backend", "all_prompts": "on"})
    assert ApiToken.objects.get().all_prompts
    assert "All prompts" in r.text


def test_the_page_showing_a_new_token_is_never_cached(alice_client):
    r = alice_client.post("/prompts/tokens/", {"name": "backend", "all_prompts": "on"})
    assert r.context["created"] in r.text
    assert "no-store" in r["Cache-Control"]


def test_existing_tokens_without_limits_become_all_prompts(alice, prompt):
    migration = importlib.import_module("prompts_library.migrations.0005_token_all_prompts")
    unlimited, _ = ApiToken.issue("old unlimited", all_prompts=False)
    limited, _ = ApiToken.issue("old limited", all_prompts=False)
    limited.prompts.set([prompt])
    migration.explicit_all_prompts(apps, None)
    unlimited.refresh_from_db()
    limited.refresh_from_db()
    assert unlimited.all_prompts and not limited.all_prompts


def test_the_api_description_lists_what_the_token_allows(client, prompt, alice):
    def described(token):
        r = client.get("/api/v1/openapi.json", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert r.status_code == 200
        return prompt.slug in r.text

    other = make_prompt(alice, name="Other", integration=prompt.integration)
    _, everything = tokens.issue_token("everything", alice, all_prompts=True)
    _, limited = tokens.issue_token("other only", alice, prompts=[other])
    assert described(everything) and not described(limited)
    other.delete()
    assert not described(limited)


def test_integrations_are_a_scope_of_their_own_on_the_form(alice_client, prompt):
    integration = prompt.integration
    r = alice_client.post(
        "/prompts/tokens/",
        {"name": "gw", "all_integrations": "on", "integrations": [integration.pk]},
    )
    assert r.status_code == 400 and tokens.BOTH_INTEGRATIONS in r.text
    r = alice_client.post("/prompts/tokens/", {"name": "gw", "integrations": [integration.pk]})
    assert r.status_code == 200 and r.context["created"]
    row = ApiToken.objects.get()
    assert not row.all_prompts and not row.all_integrations
    assert list(row.integrations.all()) == [integration]
    assert "Integrations: <code>bedrock-anthropic-haiku</code>" in r.text
    r = alice_client.post("/prompts/tokens/", {"name": "all", "all_integrations": "on"})
    assert ApiToken.objects.get(name="all").all_integrations
    assert "All integrations" in r.text


def test_a_token_limited_to_a_deleted_integration_allows_nothing(client, alice, bob):
    from tests.integrations.fixtures import make_integration

    spare = make_integration(provider="Spare", name="Old")
    row, token = tokens.issue_token("spare only", alice, integrations=[spare])
    assert not row.allows_nothing
    spare.delete()
    assert row.allows_nothing
    r = client.get("/api/v1/models", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 200 and r.json()["data"] == []
