"""The prompts library in the admin: browsable, versions read-only, never a token hash."""

import pytest

from prompts_library.models import ApiToken
from tests.prompts.fixtures import make_prompt


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
