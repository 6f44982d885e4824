"""Export and import carry a prompt's own fallback chain, in order, by its members' provider and
model names (as the prompt's integration is named); a chain that cannot be imported is refused
beside its prompt, and nothing is written."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from integrations.models import BedrockModel
from prompts_library import export_file, import_check, transfer
from prompts_library import fallbacks as prompt_fallbacks
from prompts_library.models import Prompt
from tests.fallbacks.helpers import FALLBACK_MODEL, LLAMA_MODEL
from tests.integrations.fixtures import make_integration
from tests.prompts.helpers import counts, populate, wipe


def names(prompt):
    return [str(m) for m in prompt_fallbacks.own_chain(prompt)]


def support():
    return Prompt.objects.get(slug="support-answer")


def exported():
    return json.loads(export_file.dumps(export_file.export_data()))


def item(data, slug="support-answer"):
    return next(p for p in data["prompts"] if p["slug"] == slug)


@pytest.fixture
def chained(alice):
    """populate()'s console, with Support answer falling back to Haiku 3.5, then Express."""
    populate(alice)
    haiku35 = make_integration(name="Haiku 3.5", model_id=FALLBACK_MODEL)
    express = BedrockModel.objects.get(name="Express")
    prompt_fallbacks.set_chain(support(), [haiku35, express])
    return haiku35, express


@pytest.mark.django_db
class TestFallbacksTravel:
    def test_the_export_names_the_chain_in_order(self, chained):
        data = exported()
        assert item(data)["fallbacks"] == [
            {"provider": "Bedrock Anthropic", "name": "Haiku 3.5"},
            {"provider": "Titan Corp", "name": "Express"},
        ]
        assert item(data, "summary")["fallbacks"] == []

    def test_round_trip_into_a_fresh_console(self, alice, chained):
        data = exported()
        wipe()
        assert counts() == (0, 0, 0, 0, 0)

        report = transfer.import_data(data, user=alice)

        assert names(support()) == ["Bedrock Anthropic / Haiku 3.5", "Titan Corp / Express"]
        assert names(Prompt.objects.get(slug="summary")) == []
        assert any(
            line.startswith("Support answer (support-answer)") and "2 fallback(s)" in line
            for line in report.prompts.created
        )
        event = AuditEvent.objects.filter(
            object_type="prompts_library.prompt", object_id=str(support().pk)
        ).get(changes__has_key="fallbacks")
        assert event.actor == alice
        assert [m.split(" ", 1)[1] for m in event.changes["fallbacks"][1]] == names(support())
        # And out again, the same file.
        assert item(exported())["fallbacks"] == item(data)["fallbacks"]

    def test_a_second_import_skips_the_chain(self, chained):
        before = AuditEvent.objects.count()
        report = transfer.import_data(exported())
        assert not report.prompts.updated and len(report.prompts.skipped) == 2
        assert AuditEvent.objects.count() == before
        assert names(support()) == ["Bedrock Anthropic / Haiku 3.5", "Titan Corp / Express"]

    def test_a_changed_chain_is_updated_and_a_file_without_chains_leaves_it(self, chained):
        data = exported()
        item(data)["fallbacks"] = [{"provider": "titan corp", "name": "EXPRESS"}]  # any case
        report = transfer.import_data(data)
        assert names(support()) == ["Titan Corp / Express"]
        assert report.prompts.updated == ["Support answer (support-answer): fallbacks"]

        del item(data)["fallbacks"]  # a file from before chains travelled
        report = transfer.import_data(data)
        assert names(support()) == ["Titan Corp / Express"]
        assert not report.prompts.updated

        item(data)["fallbacks"] = []  # an empty chain: the integration's applies again
        transfer.import_data(data)
        assert names(support()) == []


REFUSALS = {
    "unknown integration": (
        lambda chain: chain.append({"provider": "Nowhere", "name": "Gone"}),
        "prompts[1].fallbacks[2]: the prompt support-answer's fallback Nowhere / Gone is "
        "neither in the file nor in this console.",
    ),
    "its own integration": (
        lambda chain: chain.insert(0, {"provider": "Bedrock Anthropic", "name": "Haiku"}),
        "prompts[1].fallbacks[0]: the prompt support-answer cannot fall back to its own "
        "integration.",
    ),
    "twice": (
        lambda chain: chain.append(dict(chain[0])),
        "prompts[1].fallbacks[2]: Bedrock Anthropic / Haiku 3.5 is listed twice.",
    ),
    "too many": (
        lambda chain: chain.extend({"provider": "P", "name": str(n)} for n in range(4)),
        "prompts[1].fallbacks: a chain holds at most 5 fallbacks.",
    ),
    "not a reference": (
        lambda chain: chain.append("Haiku 3.5"),
        "prompts[1].fallbacks[2]: must be a JSON object.",
    ),
}


@pytest.mark.django_db
class TestRefused:
    @pytest.mark.parametrize("case", REFUSALS)
    def test_a_clear_error_beside_the_prompt_and_nothing_written(self, chained, case):
        data = exported()
        how, message = REFUSALS[case]
        how(item(data)["fallbacks"])
        wipe()
        with pytest.raises(import_check.TransferError) as e:
            transfer.import_data(data)
        assert str(e.value) == message
        assert counts() == (0, 0, 0, 0, 0)

    def test_a_member_that_cannot_run_the_prompts_requests_is_refused_after_nothing(self, chained):
        make_integration(name="Llama", model_id=LLAMA_MODEL)
        data = exported()
        item(data)["fallbacks"].append({"provider": "Bedrock Anthropic", "name": "Llama"})
        wipe()
        # Checked by the fallbacks page's own rule once the integrations exist, inside the
        # import's transaction: the integrations written before it are rolled back.
        with pytest.raises(import_check.TransferError) as e:
            transfer.import_data(data)
        assert str(e.value).startswith(
            "prompts[1].fallbacks[2]: the prompt support-answer's chain: "
            "Bedrock Anthropic / Llama: "
        )
        assert counts() == (0, 0, 0, 0, 0)

    def test_the_import_page_shows_it(self, alice_client, chained):
        data = exported()
        item(data)["fallbacks"].append({"provider": "Nowhere", "name": "Gone"})
        before = counts()
        body = json.dumps(data).encode()
        upload = SimpleUploadedFile("export.json", body, content_type="application/json")
        r = alice_client.post("/prompts/import/", {"file": upload})
        assert r.status_code == 400
        assert (
            "Nothing was imported. prompts[1].fallbacks[2]: the prompt support-answer&#x27;s "
            "fallback Nowhere / Gone is neither in the file nor in this console."
        ) in r.text
        assert counts() == before
        assert names(support()) == ["Bedrock Anthropic / Haiku 3.5", "Titan Corp / Express"]
