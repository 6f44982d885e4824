import pytest

from integrations.models import ConnectionTest
from tests.integrations.fixtures import SECRET, SECRET_HEADERS, make_integration


@pytest.mark.django_db
class TestAdmin:
    def test_integration_list_has_no_n_plus_one(self, alice_client, django_assert_max_num_queries):
        for i in range(3):
            make_integration(f"P{i}", "M")
        with django_assert_max_num_queries(12) as small:
            assert alice_client.get("/admin/integrations/bedrockmodel/").status_code == 200
        for i in range(3, 25):
            make_integration(f"P{i}", "M")
        with django_assert_max_num_queries(len(small.captured_queries)):
            alice_client.get("/admin/integrations/bedrockmodel/")

    def test_test_list_has_no_n_plus_one(self, alice_client, django_assert_max_num_queries):
        for i in range(3):
            make_integration(f"P{i}", "M")
        with django_assert_max_num_queries(12) as small:
            assert alice_client.get("/admin/integrations/connectiontest/").status_code == 200
        for i in range(3, 25):
            make_integration(f"P{i}", "M")
        with django_assert_max_num_queries(len(small.captured_queries)):
            alice_client.get("/admin/integrations/connectiontest/")

    def test_secret_headers_are_masked(self, alice_client):
        integration = make_integration(headers=SECRET_HEADERS)
        r = alice_client.get(f"/admin/integrations/bedrockmodel/{integration.pk}/change/")
        assert r.status_code == 200
        assert SECRET not in r.text and "X-Api-Key" in r.text and "secret, set" in r.text
        test = ConnectionTest.objects.get()
        r = alice_client.get(f"/admin/integrations/connectiontest/{test.pk}/change/")
        assert r.status_code == 200 and SECRET not in r.text

    def test_connection_tests_are_read_only(self, alice_client):
        make_integration()
        test = ConnectionTest.objects.get()
        r = alice_client.get(f"/admin/integrations/connectiontest/{test.pk}/change/")
        assert 'name="_save"' not in r.text
        assert alice_client.get("/admin/integrations/connectiontest/add/").status_code == 403
        r = alice_client.post(
            f"/admin/integrations/connectiontest/{test.pk}/delete/", {"post": "yes"}
        )
        assert r.status_code == 403
        assert ConnectionTest.objects.filter(pk=test.pk).exists()

    def test_search_and_filters_work(self, alice_client):
        make_integration("Bedrock Anthropic", "Haiku")
        r = alice_client.get("/admin/integrations/bedrockmodel/?q=haiku")
        assert r.status_code == 200 and "Haiku" in r.text
        r = alice_client.get("/admin/integrations/connectiontest/?status__exact=succeeded")
        assert r.status_code == 200
