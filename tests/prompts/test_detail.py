"""The prompt's page: versions, the feature and the published one."""

import pytest

from prompts_library import services
from tests.prompts.fixtures import content, make_prompt


@pytest.mark.django_db
class TestVersionsOnThePage:
    def test_the_page_shows_versions_feature_and_the_published_one(self, alice_client, alice):
        prompt = make_prompt(alice)
        services.save_version(prompt, content(response_path="x"), alice, "try x")
        r = alice_client.get(f"/prompts/{prompt.pk}/")
        assert "Co-pilot" in r.text and "Published: v1" in r.text
        assert "try x" in r.text and "v2" in r.text
        assert f"/api/v1/prompts/{prompt.slug}/invoke" in r.text
        assert "Not tested yet." in r.text
