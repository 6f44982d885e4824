"""The integration's fallbacks page: the chain edited in order, checked, audited; the
integration's page shows the chain and each member's state."""

import pytest

from audit.models import AuditEvent
from bedrock import invoke
from integrations import cooldown
from integrations.models import IntegrationFallback
from tests.conftest import grant
from tests.fallbacks.helpers import FALLBACK_MODEL, LLAMA_MODEL, PRIMARY_MODEL, make_integration
from tests.prompts.helpers import assert_refused_without_a_role


@pytest.fixture
def three(db):
    return (
        make_integration(name="Haiku us-east-1", model_id=PRIMARY_MODEL),
        make_integration(name="Haiku 3.5", model_id=FALLBACK_MODEL),
        make_integration(name="Opus", model_id="anthropic.claude-3-opus-20240229-v1:0"),
    )


def url(integration):
    return f"/integrations/{integration.pk}/fallbacks/"


def chain(integration):
    return list(
        IntegrationFallback.objects.filter(integration=integration)
        .order_by("position")
        .values_list("fallback_id", flat=True)
    )


@pytest.mark.django_db
class TestIntegrationFallbacks:
    def test_it_saves_the_chain_in_order_with_its_audit_row(self, alice_client, three):
        primary, b, c = three
        r = alice_client.get(url(primary))
        assert r.status_code == 200
        assert "Fallback 1" in r.text and "Save fallbacks" in r.text
        r = alice_client.post(url(primary), {"fallback_1": c.pk, "fallback_3": b.pk})
        assert r.status_code == 302 and r["Location"] == f"/integrations/{primary.pk}/"
        assert chain(primary) == [c.pk, b.pk]
        event = AuditEvent.objects.filter(
            object_type="integrations.bedrockmodel", object_id=str(primary.pk)
        ).latest("id")
        assert event.action == "update" and event.actor_repr == "alice"
        assert event.changes["fallbacks"] == [[], [f"#{c.pk} {c}", f"#{b.pk} {b}"]]
        # The form starts from the saved chain.
        r = alice_client.get(url(primary))
        assert f'<option value="{c.pk}" selected>' in r.text

    def test_the_page_shows_the_chain_and_each_members_state(self, alice_client, three):
        primary, b, c = three
        alice_client.post(url(primary), {"fallback_1": b.pk, "fallback_2": c.pk})
        for _ in range(3):
            cooldown.store.failed(str(b.pk))
        cooldown.store.failed(str(c.pk))
        r = alice_client.get(f"/integrations/{primary.pk}/")
        section = r.text.split('id="fallbacks"')[1].split("</section>")[0]
        rows = section.split("<tr>")[2:]
        assert "Primary" in rows[0] and str(primary) in rows[0] and "Ready" in rows[0]
        assert "Fallback 1" in rows[1] and str(b) in rows[1]
        assert "Cooling down" in rows[1] and "3 failures in a row" in rows[1]
        assert "Fallback 2" in rows[2] and "Ready" in rows[2] and "1 failure in a row" in rows[2]
        assert f'href="{url(primary)}"' in section  # Change fallbacks

    @pytest.mark.parametrize(
        ("choices", "field", "message"),
        [
            (lambda p, b, c: {"fallback_1": b.pk, "fallback_2": p.pk}, "fallback_2", "its own"),
            (lambda p, b, c: {"fallback_1": b.pk, "fallback_2": b.pk}, "fallback_2", "already"),
        ],
    )
    def test_it_refuses_itself_and_duplicates_beside_the_field(
        self, alice_client, three, choices, field, message
    ):
        primary, b, c = three
        alice_client.post(url(primary), {"fallback_1": c.pk})
        r = alice_client.post(url(primary), choices(primary, b, c))
        assert r.status_code == 400
        errors = r.text.split(f'id="errors-{field}"')[1].split("</div>")[0]
        assert message in errors
        assert chain(primary) == [c.pk]  # nothing saved half-way

    def test_a_familys_own_json_cannot_fall_back_to_another_family(self, alice_client, three):
        primary, b, _ = three
        llama = make_integration(name="Llama", model_id=LLAMA_MODEL)
        r = alice_client.post(url(primary), {"fallback_1": b.pk, "fallback_2": llama.pk})
        assert r.status_code == 400
        errors = r.text.split('id="errors-fallback_2"')[1].split("</div>")[0]
        assert "Anthropic Claude (Messages) JSON" in errors and "Converse" in errors
        assert chain(primary) == []
        # A Converse integration's requests run on every family.
        primary.request_format = invoke.CONVERSE
        primary.save(update_fields=["request_format"])
        r = alice_client.post(url(primary), {"fallback_1": llama.pk})
        assert r.status_code == 302
        assert chain(primary) == [llama.pk]

    def test_two_integrations_may_back_each_other_up(self, alice_client, three):
        primary, b, _ = three
        alice_client.post(url(primary), {"fallback_1": b.pk})
        r = alice_client.post(url(b), {"fallback_1": primary.pk})
        assert r.status_code == 302
        assert chain(b) == [primary.pk]

    def test_a_viewer_sees_the_chain_without_the_edit_button(
        self, client, django_user_model, three
    ):
        primary, b, _ = three
        viewer = django_user_model.objects.create_user("vera", is_staff=True)
        client.force_login(grant(viewer, "Viewer"))
        r = client.get(f"/integrations/{primary.pk}/")
        assert 'id="fallbacks"' in r.text and "Change fallbacks" not in r.text
        assert client.post(url(primary), {"fallback_1": b.pk}).status_code == 403

    def test_it_is_refused_without_a_role(self, client, charlie, three):
        assert_refused_without_a_role(client, charlie, url(three[0]))

    def test_the_page_shows_the_chain_with_redis_down(self, alice_client, three, redis_down):
        primary, b, _ = three
        alice_client.post(url(primary), {"fallback_1": b.pk})
        redis_down()
        r = alice_client.get(f"/integrations/{primary.pk}/")
        assert r.status_code == 200
        section = r.text.split('id="fallbacks"')[1].split("</section>")[0]
        assert str(b) in section and "Ready" in section  # unknown state: tried (fail open)
