import pytest

from tests.integrations.fixtures import make_integration


@pytest.mark.django_db
class TestHome:
    def test_it_lists_integrations_grouped_by_provider_with_status(self, alice_client):
        make_integration("Bedrock Anthropic", "Haiku")
        make_integration("Bedrock Anthropic", "Sonnet", tested=False)
        make_integration("Bedrock Amazon", "Nova Lite")
        r = alice_client.get("/")
        assert r.status_code == 200
        text = r.text
        assert (
            text.index("Bedrock Amazon") < text.index("Nova Lite") < text.index("Bedrock Anthropic")
        )
        assert text.index("Bedrock Anthropic") < text.index("Haiku") < text.index("Sonnet")
        assert text.count("Verified</span>") == 2 and text.count("Unverified</span>") == 1

    def test_its_query_count_does_not_grow_with_integrations(
        self, alice_client, django_assert_max_num_queries
    ):
        for i in range(3):
            make_integration(f"P{i}", "M")
        with django_assert_max_num_queries(6) as small:
            alice_client.get("/")
        for i in range(3, 30):
            make_integration(f"P{i}", "M")
        with django_assert_max_num_queries(len(small.captured_queries)):
            alice_client.get("/")

    def test_it_requires_login(self, client):
        r = client.get("/")
        assert r.status_code == 302 and r.url.startswith("/accounts/login/")
