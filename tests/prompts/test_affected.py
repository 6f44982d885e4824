"""The published prompts of an integration, listed where its model is changed."""

import pytest

from prompts_library import services
from prompts_library.models import PromptTest
from tests.integrations.fixtures import make_integration


@pytest.mark.django_db
class TestTheList:
    def test_only_published_prompts_of_the_integration_are_affected(self, prompts):
        integration, published, second, _, _ = prompts
        assert services.affected_prompts(integration) == [second, published]  # by name

    @pytest.mark.parametrize("page", ["/integrations/{}/", "/integrations/{}/edit/"])
    def test_the_integrations_pages_list_them(self, alice_client, prompts, page):
        integration = prompts[0]
        text = alice_client.get(page.format(integration.pk)).text
        assert 'id="affected-prompts"' in text
        assert "Support answer" in text and "Summary" in text
        assert "Unpublished" not in text and "Elsewhere" not in text
        assert "Never tested" in text
        assert f'hx-post="/prompts/affected/{integration.pk}/retest/"' in text

    def test_the_last_test_of_the_published_version_is_shown(self, alice_client, alice, prompts):
        integration, published = prompts[0], prompts[1]
        PromptTest.objects.create(
            prompt=published,
            version=published.published_version,
            status="failed",
            error_code="AccessDeniedException",
        )
        text = alice_client.get(f"/prompts/affected/{integration.pk}/").text
        assert "AccessDeniedException" in text

    def test_an_integration_without_prompts_says_so(self, alice_client):
        integration = make_integration()
        assert "No published prompt" in alice_client.get(f"/integrations/{integration.pk}/").text
