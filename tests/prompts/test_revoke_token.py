"""Revoking an API token."""

import pytest

from prompts_library.models import ApiToken


@pytest.mark.django_db
class TestRevokeToken:
    def test_revoking(self, alice_client):
        token, _ = ApiToken.issue("old", all_prompts=True)
        alice_client.post(f"/prompts/tokens/{token.pk}/revoke/")
        token.refresh_from_db()
        assert token.revoked_at is not None
        assert "Revoked" in alice_client.get("/prompts/tokens/").text
