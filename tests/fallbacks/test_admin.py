"""Django admin shows an integration's and a prompt's fallback chain, in order, read-only: the
console's Change fallbacks page, with its rules and audit event, is the only way to change one."""

import pytest
from django.contrib import admin

from integrations import fallbacks
from integrations.models import BedrockModel, IntegrationFallback
from prompts_library import fallbacks as prompt_fallbacks
from prompts_library.models import PromptFallback
from tests.fallbacks.helpers import FALLBACK_MODEL, PRIMARY_MODEL, make_integration
from tests.prompts.fixtures import make_prompt


@pytest.fixture
def chains(alice):
    primary = make_integration(name="Haiku us-east-1", model_id=PRIMARY_MODEL)
    second = make_integration(name="Haiku 3.5", model_id=FALLBACK_MODEL)
    third = make_integration(name="Opus", model_id="anthropic.claude-3-opus-20240229-v1:0")
    fallbacks.set_chain(primary, [third, second])
    prompt = make_prompt(alice, integration=primary)
    prompt_fallbacks.set_chain(prompt, [second])
    return primary, second, third, prompt


def field(page, name):
    """The admin's read-only field of that name (its row on the change form)."""
    return page.text.split(f"field-{name}")[1].split('<div class="form-row')[0]


def item(n, integration):
    return f'<li>Fallback {n}: <a href="/integrations/{integration.pk}/">{integration}</a></li>'


@pytest.mark.django_db
class TestChainsInAdmin:
    def test_an_integrations_chain_is_shown_in_order(self, alice_client, chains):
        primary, second, third, _ = chains
        page = alice_client.get(f"/admin/integrations/bedrockmodel/{primary.pk}/change/")
        assert page.status_code == 200
        shown = field(page, "fallbacks_shown")
        assert "Fallbacks" in shown
        assert f"<ol>{item(1, third)}{item(2, second)}</ol>" in shown
        assert f'href="/integrations/{primary.pk}/fallbacks/">Change fallbacks in the console' in (
            shown
        )
        page = alice_client.get(f"/admin/integrations/bedrockmodel/{second.pk}/change/")
        assert "No fallbacks: a throttled or failing call fails." in field(page, "fallbacks_shown")

    def test_a_prompts_own_chain_is_shown_or_that_its_models_applies(
        self, alice_client, alice, chains
    ):
        primary, second, _, prompt = chains
        page = alice_client.get(f"/admin/prompts_library/prompt/{prompt.pk}/change/")
        assert page.status_code == 200
        shown = field(page, "fallbacks_shown")
        assert f"<ol>{item(1, second)}</ol>" in shown
        assert f'href="/prompts/{prompt.pk}/fallbacks/">Change fallbacks in the console' in shown
        other = make_prompt(alice, name="Summary", integration=primary)
        page = alice_client.get(f"/admin/prompts_library/prompt/{other.pk}/change/")
        assert "No chain of its own: its model&#x27;s chain applies." in field(
            page, "fallbacks_shown"
        )

    def test_the_admin_cannot_change_a_chain(self, alice_client, chains):
        primary, second, third, prompt = chains
        url = f"/admin/integrations/bedrockmodel/{primary.pk}/change/"
        page = alice_client.get(url)
        # Nothing to edit: no inline, no input for the chain.
        assert 'name="fallback' not in page.text and "TOTAL_FORMS" not in page.text
        # A forged post with chain fields saves the name and nothing else.
        r = alice_client.post(
            url,
            {
                "name": "Haiku us-east-1 (renamed)",
                "fallbacks_shown": [second.pk],
                "fallback_links-TOTAL_FORMS": "1",
                "fallback_links-INITIAL_FORMS": "0",
                "fallback_links-0-fallback": second.pk,
                "fallback_links-0-position": "0",
            },
        )
        assert r.status_code == 302
        assert BedrockModel.objects.get(pk=primary.pk).name == "Haiku us-east-1 (renamed)"
        assert fallbacks.chain_of(primary) == [third, second]
        # A prompt is not changed in the admin at all.
        r = alice_client.post(
            f"/admin/prompts_library/prompt/{prompt.pk}/change/", {"fallbacks_shown": ""}
        )
        assert r.status_code == 403
        assert prompt_fallbacks.own_chain(prompt) == [second]
        # The links have no admin of their own.
        assert not admin.site.is_registered(IntegrationFallback)
        assert not admin.site.is_registered(PromptFallback)
        for path in ("integrations/integrationfallback", "prompts_library/promptfallback"):
            assert alice_client.get(f"/admin/{path}/").status_code == 404
            assert alice_client.get(f"/admin/{path}/add/").status_code == 404
