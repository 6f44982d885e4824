"""API tokens in the console: shown once, stored as a hash."""

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
