"""Save: only what passed a Test is stored; the integration's page shows it Verified."""

import pytest

from integrations.models import BedrockModel, ConnectionTest, Provider
from tests.conftest import wait_for_test
from tests.integrations.helpers import form_data

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.django_db(transaction=True)
class TestSave:
    def test_it_saves_after_a_successful_test_and_shows_verified(
        self, alice_client, sandbox, celery_worker
    ):
        alice_client.post("/integrations/test/", form_data(), **HTMX)
        wait_for_test(ConnectionTest.objects.get().pk)
        r = alice_client.post("/integrations/new/", form_data())
        integration = BedrockModel.objects.get()
        assert r.status_code == 302 and r.url == f"/integrations/{integration.pk}/"
        assert integration.provider.name == "Bedrock Anthropic"
        assert integration.verified
        page = alice_client.get(r.url)
        assert "Verified" in page.text and "Unverified" not in page.text
        assert "Hello from the Bedrock sandbox" in page.text

    def test_it_refuses_values_that_were_not_tested(self, alice_client, sandbox, celery_worker):
        alice_client.post("/integrations/test/", form_data(), **HTMX)
        wait_for_test(ConnectionTest.objects.get().pk)
        r = alice_client.post("/integrations/new/", form_data(model_name="Haiku 2"))
        # the model name is not part of what is tested, so this is still the tested configuration
        assert r.status_code == 302
        r = alice_client.post("/integrations/new/", form_data(request_json='{"messages": []}'))
        assert r.status_code == 400
        assert "Run Test on exactly these values" in r.text
        assert BedrockModel.objects.count() == 1

    def test_it_refuses_a_configuration_whose_latest_test_failed(
        self, alice_client, sandbox, celery_worker
    ):
        alice_client.post("/integrations/test/", form_data(external_id="wrong-one"), **HTMX)
        wait_for_test(ConnectionTest.objects.get().pk)
        r = alice_client.post("/integrations/new/", form_data(external_id="wrong-one"))
        assert r.status_code == 400
        assert BedrockModel.objects.count() == 0 and Provider.objects.count() == 0

    def test_it_reuses_the_provider_and_refuses_duplicate_model_names(
        self, alice_client, sandbox, celery_worker
    ):
        alice_client.post("/integrations/test/", form_data(), **HTMX)
        wait_for_test(ConnectionTest.objects.get().pk)
        alice_client.post("/integrations/new/", form_data())
        r = alice_client.post(
            "/integrations/new/", form_data(provider_name="bedrock anthropic", model_name="HAIKU")
        )
        assert r.status_code == 400
        assert "already has a model named" in r.text
        alice_client.post(
            "/integrations/new/",
            form_data(provider_name="bedrock anthropic", model_name="Haiku EU"),
        )
        assert Provider.objects.count() == 1
        assert BedrockModel.objects.count() == 2


@pytest.mark.django_db(transaction=True)
class TestEdit:
    def _saved(self, client, **overrides):
        client.post("/integrations/test/", form_data(**overrides), **HTMX)
        wait_for_test(ConnectionTest.objects.latest("created").pk)
        client.post("/integrations/new/", form_data(**overrides))
        return BedrockModel.objects.get()

    def test_it_keeps_a_secret_header_when_no_new_value_is_typed(
        self, alice_client, sandbox, celery_worker
    ):
        secret = dict(
            header_name=["X-Api-Key"],
            header_value=["top-secret-value"],
            header_secret=["0"],
            header_keep=[""],
        )
        integration = self._saved(alice_client, **secret)
        page = alice_client.get(f"/integrations/{integration.pk}/edit/")
        assert "top-secret-value" not in page.text
        assert "X-Api-Key" in page.text and "Set — type to replace" in page.text
        kept = dict(
            header_name=["X-Api-Key"], header_value=[""], header_secret=["0"], header_keep=["0"]
        )
        data = form_data(integration=str(integration.pk), **kept)
        alice_client.post("/integrations/test/", data, **HTMX)
        test = wait_for_test(ConnectionTest.objects.latest("created").pk)
        assert test.fingerprint == integration.fingerprint
        r = alice_client.post(f"/integrations/{integration.pk}/edit/", data)
        assert r.status_code == 302
        integration.refresh_from_db()
        assert integration.configuration().headers[0].value == "top-secret-value"

    def test_a_changed_configuration_is_unverified_until_tested(
        self, alice_client, sandbox, celery_worker
    ):
        integration = self._saved(alice_client)
        assert integration.verified
        body = '{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": [{"role": "user", "content": "Bye"}]}'
        r = alice_client.post(f"/integrations/{integration.pk}/edit/", form_data(request_json=body))
        assert r.status_code == 400
        integration.refresh_from_db()
        assert integration.verified and "Bye" not in integration.request_json
        # the saved model itself can change fingerprints only through a test; simulate an ARN
        # change made behind the form (e.g. by an import) and see it unverified
        BedrockModel.objects.filter(pk=integration.pk).update(fingerprint="changed")
        integration.refresh_from_db()
        assert not integration.verified
        assert "Unverified" in alice_client.get(f"/integrations/{integration.pk}/").text


@pytest.mark.django_db
def test_an_unchanged_verified_integration_saves_without_a_new_test(alice_client):
    from tests.integrations.fixtures import make_integration

    integration = make_integration()
    data = form_data(provider_name="Bedrock Anthropic", model_name="Renamed")
    r = alice_client.post(f"/integrations/{integration.pk}/edit/", data)
    assert r.status_code == 302
    integration.refresh_from_db()
    assert integration.name == "Renamed" and integration.verified
