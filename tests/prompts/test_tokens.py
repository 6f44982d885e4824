"""API tokens in the console: shown once, stored as a hash, revocable; admin never shows the hash."""

import hashlib

import pytest

from prompts_library.models import ApiToken
from tests.prompts.fixtures import make_prompt


@pytest.mark.django_db
class TestTokens:
    def test_a_new_token_is_shown_once_and_only_its_hash_is_kept(self, alice_client, alice):
        prompt = make_prompt(alice)
        r = alice_client.post("/prompts/tokens/", {"name": "Co-pilot", "prompts": [prompt.pk]})
        token = ApiToken.objects.get()
        shown = r.text.split('id="new-token">')[1].split("<")[0]
        assert shown.startswith("bcp_") and shown.startswith(token.prefix)
        assert token.token_hash == hashlib.sha256(shown.encode()).hexdigest()
        assert list(token.prompts.all()) == [prompt]
        assert token.created_by == alice
        assert shown not in alice_client.get("/prompts/tokens/").text

    def test_revoking(self, alice_client):
        token, _ = ApiToken.issue("old", all_prompts=True)
        alice_client.post(f"/prompts/tokens/{token.pk}/revoke/")
        token.refresh_from_db()
        assert token.revoked_at is not None
        assert "Revoked" in alice_client.get("/prompts/tokens/").text


@pytest.mark.django_db
class TestAdmin:
    def test_prompts_versions_and_tokens_are_browsable(self, alice_client, alice):
        prompt = make_prompt(alice)
        token, _ = ApiToken.issue("ci", all_prompts=True)
        version = prompt.versions.get()
        for url in (
            "/admin/prompts_library/prompt/",
            f"/admin/prompts_library/prompt/{prompt.pk}/change/",
            "/admin/prompts_library/promptversion/",
            f"/admin/prompts_library/promptversion/{version.pk}/change/",
            "/admin/prompts_library/apitoken/",
            f"/admin/prompts_library/apitoken/{token.pk}/change/",
            "/admin/prompts_library/prompttest/",
        ):
            r = alice_client.get(url)
            assert r.status_code == 200, url
            assert token.token_hash not in r.text

    def test_versions_are_read_only_in_admin(self, alice_client, alice):
        version = make_prompt(alice).versions.get()
        url = f"/admin/prompts_library/promptversion/{version.pk}/change/"
        r = alice_client.post(url, {"response_path": "changed"})
        assert r.status_code == 403
        version.refresh_from_db()
        assert version.response_path != "changed"
        assert alice_client.get("/admin/prompts_library/promptversion/add/").status_code == 403
