"""The prompt's fallbacks page: its own chain replaces its model's; the prompt's page shows
the chain that applies and each member's state."""

import pytest

from audit.models import AuditEvent
from integrations import cooldown
from prompts_library.models import PromptFallback
from tests.fallbacks.helpers import LLAMA_MODEL, chained, make_integration
from tests.prompts.fixtures import make_prompt
from tests.prompts.helpers import assert_refused_without_a_role


@pytest.fixture
def setup(alice):
    primary, fallback = chained()
    own = make_integration(name="Opus", model_id="anthropic.claude-3-opus-20240229-v1:0")
    return make_prompt(alice, integration=primary), primary, fallback, own


def url(prompt):
    return f"/prompts/{prompt.pk}/fallbacks/"


def section(page):
    return page.text.split('id="fallbacks"')[1].split("</section>")[0]


@pytest.mark.django_db
class TestPromptFallbacks:
    def test_a_prompt_without_a_chain_shows_its_models(self, client, bob, setup):
        prompt, primary, fallback, _ = setup
        client.force_login(bob)
        shown = section(client.get(f"/prompts/{prompt.pk}/"))
        assert "its model's chain applies" in shown
        assert str(primary) in shown and str(fallback) in shown and "Ready" in shown

    def test_its_own_chain_is_saved_audited_and_shown(self, client, bob, setup):
        prompt, _primary, fallback, own = setup
        client.force_login(bob)
        r = client.get(url(prompt))
        assert r.status_code == 200 and "replace its model" in r.text
        r = client.post(url(prompt), {"fallback_1": own.pk})
        assert r.status_code == 302 and r["Location"] == f"/prompts/{prompt.pk}/"
        assert list(
            PromptFallback.objects.filter(prompt=prompt).values_list("fallback", flat=True)
        ) == [own.pk]
        event = AuditEvent.objects.filter(object_type="prompts_library.prompt").latest("id")
        assert event.actor_repr == "bob"
        assert event.changes["fallbacks"] == [[], [f"#{own.pk} {own}"]]
        for _ in range(3):
            cooldown.store.failed(str(own.pk))
        shown = section(client.get(f"/prompts/{prompt.pk}/"))
        assert "its model's chain applies" not in shown
        assert str(own) in shown and str(fallback) not in shown
        assert "Cooling down" in shown and "3 failures in a row" in shown
        # Emptied: the model's chain applies again.
        client.post(url(prompt), {})
        assert not PromptFallback.objects.filter(prompt=prompt).exists()

    def test_it_refuses_its_model_and_other_families_beside_the_field(self, client, bob, setup):
        prompt, primary, _, own = setup
        llama = make_integration(name="Llama", model_id=LLAMA_MODEL)
        client.force_login(bob)
        r = client.post(url(prompt), {"fallback_1": own.pk, "fallback_2": primary.pk})
        assert r.status_code == 400
        assert "its own fallback" in r.text.split('id="errors-fallback_2"')[1].split("</div>")[0]
        r = client.post(url(prompt), {"fallback_1": llama.pk})
        assert r.status_code == 400
        errors = r.text.split('id="errors-fallback_1"')[1].split("</div>")[0]
        assert "Meta Llama 3 does not accept" in errors
        assert not PromptFallback.objects.filter(prompt=prompt).exists()

    def test_it_is_refused_without_a_role(self, client, charlie, setup):
        assert_refused_without_a_role(client, charlie, url(setup[0]))
