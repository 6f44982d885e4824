"""Deleting an integration (in the admin, the only place it can be deleted) takes it out of the
chains that named it, with one audit event per integration or prompt whose chain changed, written
in the delete's transaction."""

from unittest import mock

import pytest

from audit import describe
from audit.models import AuditEvent
from integrations import fallbacks
from integrations.models import BedrockModel, IntegrationFallback
from prompts_library import fallbacks as prompt_fallbacks
from prompts_library.models import PromptFallback
from tests.fallbacks.helpers import FALLBACK_MODEL, PRIMARY_MODEL, make_integration
from tests.prompts.fixtures import make_prompt

OPUS_MODEL = "anthropic.claude-3-opus-20240229-v1:0"


@pytest.fixture
def chains(alice):
    """Two primaries and a prompt whose chains name "Haiku 3.5", which alice deletes."""
    east = make_integration(name="Haiku us-east-1", model_id=PRIMARY_MODEL)
    west = make_integration(name="Haiku us-west-2", model_id=PRIMARY_MODEL)
    gone = make_integration(name="Haiku 3.5", model_id=FALLBACK_MODEL)
    opus = make_integration(name="Opus", model_id=OPUS_MODEL)
    untouched = make_integration(name="Sonnet", model_id=PRIMARY_MODEL)
    fallbacks.set_chain(east, [gone, opus])
    fallbacks.set_chain(west, [opus, gone])
    fallbacks.set_chain(untouched, [opus])
    prompt = make_prompt(alice, integration=untouched)
    prompt_fallbacks.set_chain(prompt, [gone, west])
    return east, west, gone, opus, untouched, prompt


def chain_events(obj):
    return list(
        AuditEvent.objects.filter(
            object_type=obj._meta.label_lower, object_id=str(obj.pk), action="update"
        )
        .filter(changes__has_key="reason")
        .order_by("id")
    )


def tag(m):
    return f"#{m.pk} {m}"


@pytest.mark.django_db
class TestIntegrationDelete:
    def test_each_chain_that_named_it_gets_its_audit_event(self, alice_client, chains):
        east, west, gone, opus, untouched, prompt = chains
        url = f"/admin/integrations/bedrockmodel/{gone.pk}/delete/"
        assert alice_client.post(url, {"post": "yes"}).status_code == 302
        assert not BedrockModel.objects.filter(pk=gone.pk).exists()
        assert fallbacks.chain_of(east) == [opus]
        assert fallbacks.chain_of(west) == [opus]
        assert prompt_fallbacks.own_chain(prompt) == [west]

        reason = f"Integration {tag(gone)} was deleted"
        (e,) = chain_events(east)
        assert e.actor_repr == "alice"
        assert e.changes == {
            "fallbacks": [[tag(gone), tag(opus)], [tag(opus)]],
            "reason": reason,
        }
        (w,) = chain_events(west)
        assert w.changes["fallbacks"] == [[tag(opus), tag(gone)], [tag(opus)]]
        (p,) = chain_events(prompt)
        assert p.actor_repr == "alice"
        assert p.changes["fallbacks"] == [[tag(gone), tag(west)], [tag(west)]]
        assert chain_events(untouched) == [] and chain_events(opus) == []
        # Written with the delete: its own event follows in the same transaction.
        deleted = AuditEvent.objects.get(object_id=str(gone.pk), action="delete")
        assert deleted.id > max(e.id, w.id, p.id)

        # A reviewer reads the chain before and after, and why it changed.
        readable = describe.readable(e)
        assert [(r.field, r.before, r.after) for r in readable.rows] == [
            ("Fallbacks", f"{tag(gone)}; {tag(opus)}", tag(opus))
        ]
        assert [(d.field, d.value) for d in readable.details] == [("Reason", reason)]
        r = alice_client.get(f"/admin/audit/auditevent/{p.pk}/change/")
        assert r.status_code == 200 and reason in r.text

    def test_the_delete_action_of_the_list_removes_several_with_one_event_per_chain(
        self, alice_client, chains
    ):
        east, west, gone, opus, untouched, prompt = chains
        r = alice_client.post(
            "/admin/integrations/bedrockmodel/",
            {"action": "delete_selected", "_selected_action": [gone.pk, opus.pk], "post": "yes"},
        )
        assert r.status_code == 302
        assert IntegrationFallback.objects.filter(fallback__in=[gone.pk, opus.pk]).count() == 0
        (e,) = chain_events(east)
        assert e.changes["fallbacks"] == [[tag(gone), tag(opus)], []]
        assert e.changes["reason"] == f"Integrations {tag(gone)}, {tag(opus)} were deleted"
        (u,) = chain_events(untouched)
        assert u.changes == {
            "fallbacks": [[tag(opus)], []],
            "reason": f"Integration {tag(opus)} was deleted",
        }
        assert len(chain_events(west)) == 1 and len(chain_events(prompt)) == 1

    def test_a_failed_delete_leaves_the_chains_and_writes_no_event(self, alice_client, chains):
        east, _west, gone, _opus, _untouched, prompt = chains
        before = AuditEvent.objects.count()
        url = f"/admin/integrations/bedrockmodel/{gone.pk}/delete/"
        boom = mock.patch.object(BedrockModel, "delete", side_effect=RuntimeError("disk full"))
        with boom, pytest.raises(RuntimeError):
            alice_client.post(url, {"post": "yes"})
        assert AuditEvent.objects.count() == before
        assert gone in fallbacks.chain_of(east)
        assert PromptFallback.objects.filter(prompt=prompt, fallback=gone).exists()

    def test_an_integration_in_no_chain_is_deleted_without_chain_events(self, alice_client):
        lone = make_integration(name="Lone", model_id=PRIMARY_MODEL)
        url = f"/admin/integrations/bedrockmodel/{lone.pk}/delete/"
        assert alice_client.post(url, {"post": "yes"}).status_code == 302
        assert not AuditEvent.objects.filter(changes__has_key="reason").exists()
