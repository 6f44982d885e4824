"""Publishing a version from the prompt's page."""

import pytest

from prompts_library import services
from tests.prompts.fixtures import content, make_prompt


@pytest.mark.django_db
class TestPublish:
    def test_publish(self, alice_client, alice):
        prompt = make_prompt(alice)
        services.save_version(prompt, content(response_path="x"), alice)
        r = alice_client.post(f"/prompts/{prompt.pk}/versions/2/publish/")
        assert r.status_code == 302
        prompt.refresh_from_db()
        assert prompt.published_version.number == 2

    def test_an_unknown_version_is_404(self, alice_client, alice):
        prompt = make_prompt(alice)
        assert alice_client.post(f"/prompts/{prompt.pk}/versions/9/publish/").status_code == 404

    def test_get_is_not_allowed_for_publish(self, alice_client, alice):
        prompt = make_prompt(alice)
        assert alice_client.get(f"/prompts/{prompt.pk}/versions/1/publish/").status_code == 405
