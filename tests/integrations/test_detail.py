import pytest

from tests.integrations.fixtures import SECRET, SECRET_HEADERS, make_integration


@pytest.mark.django_db
class TestDetail:
    def test_it_shows_the_configuration_last_test_and_history(self, alice_client):
        integration = make_integration(headers=SECRET_HEADERS)
        r = alice_client.get(f"/integrations/{integration.pk}/")
        assert r.status_code == 200
        assert "Verified" in r.text and "Test history" in r.text
        assert integration.model_id in r.text and integration.role_arn in r.text
        assert "X-Tenant: acme" in r.text and "X-Api-Key" in r.text
        assert SECRET not in r.text

    def test_it_is_404_for_an_unknown_integration(self, alice_client):
        assert alice_client.get("/integrations/999999/").status_code == 404

    def test_it_escapes_names(self, alice_client):
        integration = make_integration(name="<script>alert(1)</script>")
        r = alice_client.get(f"/integrations/{integration.pk}/")
        assert "<script>alert(1)</script>" not in r.text
        assert "&lt;script&gt;" in r.text


@pytest.mark.django_db
def test_it_shows_the_api_model_name(alice_client):
    integration = make_integration()
    page = alice_client.get(f"/integrations/{integration.pk}/").text
    assert "<dt>API model name</dt><dd><code>bedrock-anthropic-haiku</code></dd>" in page
    assert "base URL <code>http://testserver/api/v1</code>" in page
