"""Rolling back: the old content as a new, published version."""

import pytest

from prompts_library import services
from tests.prompts.fixtures import content, make_prompt


@pytest.mark.django_db
class TestRollback:
    def test_rollback_adds_a_version_and_publishes_it(self, alice_client, alice, bob):
        prompt = make_prompt(alice)
        services.publish(prompt, services.save_version(prompt, content(response_path="x"), alice))
        alice_client.force_login(bob)
        alice_client.post(f"/prompts/{prompt.pk}/versions/1/rollback/")
        prompt.refresh_from_db()
        v3 = prompt.published_version
        assert (v3.number, v3.author, v3.response_path) == (
            3,
            bob,
            prompt.versions.get(number=1).response_path,
        )
