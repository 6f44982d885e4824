"""The setup page: four numbered steps, step 1's generated policies, step 2's labelled fields."""

import json
import re
import uuid

import pytest
from django.core.cache import cache as django_cache

from integrations.models import Provider


@pytest.mark.django_db
class TestNewPage:
    def test_it_shows_the_four_steps_and_the_labelled_fields(self, alice_client, sandbox):
        r = alice_client.get("/integrations/new/")
        assert r.status_code == 200
        for step in (
            "Gather required information",
            "Enter integration details and Test",
            "Save",
            "Start using configured models",
        ):
            assert step in r.text
        for label in (
            "Provider Name",
            "Model Name",
            "IAM Role ARN",
            "Amazon STS API",
            "External ID",
            "Amazon Bedrock ARN",
            "Endpoint",
            "Header name",
            "Header value",
            "Secret",
            "Request JSON",
        ):
            assert re.search(rf">\s*{label}\s*<", r.text), label
        assert ">Test</button>" in r.text
        assert re.search(r'id="save-button"[^>]*disabled', r.text)

    def test_it_generates_the_trust_policy_for_the_platform_identity(self, alice_client, sandbox):
        r = alice_client.get("/integrations/new/")
        trust = json.loads(
            r.text.split('id="trust-policy" class="code">')[1]
            .split("</pre>")[0]
            .replace("&quot;", '"')
        )
        statement = trust["Statement"][0]
        assert (
            statement["Principal"]["AWS"]
            == "arn:aws:iam::123456789012:user/bedrock-console-platform"
        )
        assert statement["Action"] == "sts:AssumeRole"
        external_id = statement["Condition"]["StringEquals"]["sts:ExternalId"]
        assert f'value="{external_id}"' in r.text
        assert len(external_id) >= 32

    def test_it_caches_the_platform_identity(self, alice_client, sandbox, monkeypatch):
        from bedrock import client

        # The session's worker shares the sandbox and the cache: count this process's calls
        # only, under a cache key of this test's own.
        monkeypatch.setattr(client, "IDENTITY_CACHE_KEY", f"identity-{uuid.uuid4().hex}")
        calls: list[str] = []
        sts = client.get_client("sts", None, None)
        count = lambda **kwargs: calls.append("GetCallerIdentity")  # noqa: E731
        sts.meta.events.register("before-call.sts.GetCallerIdentity", count)
        try:
            alice_client.get("/integrations/new/")
            alice_client.get("/integrations/new/")
        finally:
            sts.meta.events.unregister("before-call.sts.GetCallerIdentity", count)
        assert calls == ["GetCallerIdentity"]

    def test_a_process_keeps_the_identity_it_found(self, sandbox, monkeypatch):
        from bedrock import client

        monkeypatch.setattr(client, "IDENTITY_CACHE_KEY", f"identity-{uuid.uuid4().hex}")
        asked: list[str] = []

        class Counting:
            def get(self, key, *args):
                asked.append(key)
                return django_cache.get(key, *args)

            def set(self, *args, **kwargs):
                return django_cache.set(*args, **kwargs)

            def delete(self, key):
                return django_cache.delete(key)

        monkeypatch.setattr(client, "cache", Counting())
        found = client.platform_identity()
        assert found.arn and len(asked) == 1
        assert client.platform_identity() == found and len(asked) == 1  # kept: not asked
        monkeypatch.setattr(client, "IDENTITY_KEPT_SECONDS", 0.0)
        client.reset_caches()
        assert client.platform_identity() == found and len(asked) == 2  # forgotten: asked
        assert client.platform_identity() == found and len(asked) == 3  # not kept any longer

    def test_it_says_unknown_without_platform_credentials(self, alice_client, sandbox, monkeypatch):
        from bedrock import client

        # A key of this test's own: the worker may cache the real identity under the shared one.
        monkeypatch.setattr(client, "IDENTITY_CACHE_KEY", f"identity-{uuid.uuid4().hex}")
        client.reset_caches(clients=True)
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        try:
            r = alice_client.get("/integrations/new/")
        finally:
            client.reset_caches(clients=True)
        assert "<strong>unknown</strong>" in r.text
        assert "no AWS credentials" in r.text

    def test_it_prefills_the_providers_external_id(self, alice_client, sandbox):
        provider = Provider.objects.create(
            name="Bedrock Anthropic", external_id="provider-ext-id-1"
        )
        r = alice_client.get(f"/integrations/new/?provider={provider.pk}")
        assert 'value="provider-ext-id-1"' in r.text

    def test_it_requires_a_signed_in_user_with_a_role(self, client, charlie):
        assert client.get("/integrations/new/").status_code == 302
        client.force_login(charlie)
        r = client.get("/integrations/new/")
        assert r.status_code == 403

    def test_it_sends_a_strict_content_security_policy(self, alice_client, sandbox):
        r = alice_client.get("/integrations/new/")
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "<script>" not in r.text and " onclick=" not in r.text


def suggestions(response) -> dict:
    """The suggestions an assist answer carries (as data for the page, never swapped inputs)."""
    event = json.loads(response.headers["HX-Trigger"])["consoleSuggest"]
    return event["fields"]


@pytest.mark.django_db
class TestAssist:
    def test_it_prefills_endpoint_and_body_for_the_models_family_and_region(
        self, alice_client, sandbox
    ):
        r = alice_client.post(
            "/integrations/assist/",
            {
                "model_id": "arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-lite-v1:0",
                "endpoint_auto": "1",
                "request_json": "",
            },
            HTTP_HX_REQUEST="true",
        )
        fields = suggestions(r)
        assert fields["endpoint"] == "https://bedrock-runtime.eu-west-1.amazonaws.com"
        assert "inferenceConfig" in json.loads(fields["request_json"])
        assert "foundation-model/amazon.nova-lite-v1:0" in r.text  # permission policy
        assert 'name="endpoint"' not in r.text  # never an input that would replace the admin's

    def test_it_flags_an_endpoint_in_another_region(self, alice_client, sandbox):
        r = alice_client.post(
            "/integrations/assist/",
            {
                "model_id": "arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-lite-v1:0",
                "endpoint_auto": "0",
                "endpoint": "https://bedrock-runtime.us-east-1.amazonaws.com",
            },
            HTTP_HX_REQUEST="true",
        )
        assert 'class="warning"' in r.text and "eu-west-1" in r.text

    def test_it_keeps_a_request_json_the_admin_wrote(self, alice_client, sandbox):
        r = alice_client.post(
            "/integrations/assist/",
            {"model_id": "amazon.nova-lite-v1:0", "request_json": '{"mine": true}'},
            HTTP_HX_REQUEST="true",
        )
        assert "request_json" not in suggestions(r)

    def test_it_prefills_an_existing_providers_external_id(self, alice_client, sandbox):
        Provider.objects.create(name="Bedrock Anthropic", external_id="the-providers-id")
        r = alice_client.post(
            "/integrations/assist/",
            {"provider_name": "bedrock anthropic", "external_id_auto": "1"},
            HTTP_HX_REQUEST="true",
        )
        assert suggestions(r) == {"external_id": "the-providers-id"}

    def test_it_echoes_the_request_sequence_so_the_page_drops_stale_answers(
        self, alice_client, sandbox
    ):
        r = alice_client.post("/integrations/assist/", {"assist_seq": "7"}, HTTP_HX_REQUEST="true")
        assert json.loads(r.headers["HX-Trigger"])["consoleSuggest"]["seq"] == 7


@pytest.mark.django_db
def test_a_new_integration_is_offered_a_free_api_model_name(alice_client):
    from tests.integrations.fixtures import make_integration

    make_integration()  # bedrock-anthropic-haiku is taken
    names = {"provider_name": "Bedrock Anthropic", "model_name": "Haiku!"}
    r = alice_client.post("/integrations/assist/", names, HTTP_HX_REQUEST="true")
    assert suggestions(r)["api_name"] == "bedrock-anthropic-haiku-2"
    page = alice_client.get("/integrations/new/").text
    assert 'price_output_per_1k api_name" hx-post' in page
    assert "API model name" in page
    # Editing an integration: its name is never replaced behind the admin's back.
    r = alice_client.post(
        "/integrations/assist/", {**names, "integration": "1"}, HTTP_HX_REQUEST="true"
    )
    assert "api_name" not in suggestions(r)
