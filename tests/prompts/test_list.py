"""The prompts library's list page, and who may see the library."""

import pytest

from tests.prompts.fixtures import make_prompt


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
class TestList:
    def test_list_shows_prompts_and_what_is_published(self, alice_client, alice):
        first = make_prompt(alice)
        make_prompt(alice, name="Draft", published=False, integration=first.integration)
        r = alice_client.get("/prompts/")
        assert "Support answer" in r.text and "v1" in r.text
        assert "Not published" in r.text

    def test_list_links_to_both(self, alice_client):
        text = alice_client.get("/prompts/").text
        assert 'href="/prompts/export/"' in text and 'href="/prompts/import/"' in text
