"""Import and export: prompts with their versions and integrations, secrets left out."""

import copy
import io
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.http import QueryDict
from django.utils import timezone

from audit.models import AuditEvent
from integrations.forms import IntegrationForm
from integrations.models import BedrockModel, ConnectionTest, Header, load_headers
from prompts_library import export_file, import_check, transfer
from prompts_library.models import ApiToken, Prompt
from tests.integrations.fixtures import SECRET, make_integration
from tests.integrations.helpers import form_data as integration_form_data
from tests.prompts.helpers import counts, populate, snapshot, wipe


def _broken(data, how):
    data = copy.deepcopy(data)
    how(data)
    return data


BREAKAGES = {
    "format": (lambda d: d.update(format="something-else"), "not a Bedrock Console export"),
    "version": (lambda d: d.update(version=2), "export version"),
    "bad ARN": (
        lambda d: d["integrations"][1].update(role_arn="arn:aws:iam::12:role/x"),
        "integrations[1].role_arn",
    ),
    "bad endpoint": (
        lambda d: d["integrations"][0].update(endpoint="https://evil.example.com"),
        "integrations[0].endpoint",
    ),
    "missing list": (lambda d: d.pop("prompts"), '"prompts" list is missing'),
    "missing field": (lambda d: d["prompts"][1].pop("slug"), 'prompts[1]: the field "slug"'),
    "missing version field": (
        lambda d: d["prompts"][1]["versions"][0].pop("response_path"),
        "response_path",
    ),
    "bad template": (
        lambda d: d["prompts"][1]["versions"][0].update(request_template="{not json"),
        "prompts[1].versions[0].request_template",
    ),
    "unknown published": (
        lambda d: d["prompts"][1].update(published_version=9),
        "published_version",
    ),
    "secret value in file": (
        lambda d: d["integrations"][0]["headers"][0].update(value="x"),
        "must not carry a value",
    ),
    "name longer than the model's field": (
        lambda d: d["prompts"][0].update(name="x" * 201),
        "prompts[0].name: must be at most 200 characters.",
    ),
    "blank header value": (
        lambda d: d["integrations"][0]["headers"][1].update(value="   "),
        "integrations[0].headers[1].value: Enter a value for this header.",
    ),
    "NaN in a template": (
        lambda d: d["prompts"][1]["versions"][0].update(request_template='{"a": NaN}'),
        "prompts[1].versions[0].request_template: The Request JSON is not valid JSON: NaN",
    ),
}


@pytest.mark.django_db
class TestExport:
    def test_shape_and_no_secrets_tokens_or_tests(self, alice):
        populate(alice)
        data = export_file.export_data()
        text = json.dumps(data)
        assert SECRET not in text
        assert "ciphertext" not in text
        assert "bcp_" not in text and "token" not in json.dumps(list(data))
        assert data["format"] == "bedrock-console-export" and data["version"] == 1
        haiku = next(i for i in data["integrations"] if i["name"] == "Haiku")
        assert haiku["headers"] == [
            {"name": "X-Api-Key", "secret": True},
            {"name": "X-Tenant", "secret": False, "value": "acme"},
        ]
        support = next(p for p in data["prompts"] if p["slug"] == "support-answer")
        assert support["integration"] == {"provider": "Bedrock Anthropic", "name": "Haiku"}
        assert support["published_version"] == 1
        assert [v["number"] for v in support["versions"]] == [1, 2]
        assert support["versions"][1]["author"] == "alice"
        assert support["versions"][1]["change_note"] == "Second take"


@pytest.mark.django_db
class TestImport:
    def test_round_trip_into_a_fresh_console(self, alice):
        populate(alice)
        before = snapshot()
        data = json.loads(export_file.dumps(export_file.export_data()))
        wipe()
        assert counts() == (0, 0, 0, 0, 0)

        report = transfer.import_data(data, user=alice)

        assert snapshot() == before
        assert len(report.integrations.created) == 2 and len(report.prompts.created) == 2
        assert len(report.features.created) == 3 and len(report.providers.created) == 2
        assert any("X-Api-Key needs a value" in w for w in report.warnings)
        haiku = BedrockModel.objects.get(name="Haiku")
        assert [h["name"] for h in haiku.headers] == ["X-Tenant"]
        assert not haiku.verified
        assert haiku.fingerprint == haiku.configuration().fingerprint()
        assert not ApiToken.objects.exists() and not ConnectionTest.objects.exists()

    def test_api_model_names_travel_and_never_collide(self, alice):
        haiku = populate(alice)
        haiku.api_name = "support-model"
        haiku.save(update_fields=["api_name"])
        data = json.loads(export_file.dumps(export_file.export_data()))
        assert data["integrations"][0]["api_name"] == "support-model"
        wipe()
        transfer.import_data(data, user=alice)
        assert BedrockModel.objects.get(name="Haiku").api_name == "support-model"
        # Into a console where the name is taken by another integration: another is given.
        wipe()
        make_integration(provider="Someone", name="Else").__class__.objects.update(
            api_name="support-model"
        )
        report = transfer.import_data(data, user=alice)
        assert BedrockModel.objects.get(name="Haiku").api_name == "bedrock-anthropic-haiku"
        assert any("support-model is taken here" in w for w in report.warnings)

    def test_a_second_import_skips_everything(self, alice):
        haiku = populate(alice)
        data = export_file.export_data()
        report = transfer.import_data(data)
        for kind, outcome in report.sections():
            assert not outcome.created and not outcome.updated, (kind, outcome)
        assert len(report.integrations.skipped) == 2 and len(report.prompts.skipped) == 2
        assert not report.warnings
        haiku.refresh_from_db()
        # The stored secret was kept, so the configuration (and its verification) is unchanged.
        assert load_headers(haiku.headers)[0] == Header("X-Api-Key", SECRET, True)
        assert haiku.verified

    def test_changes_are_updated_and_versions_appended(self, alice):
        haiku = populate(alice)
        data = export_file.export_data()
        item = next(i for i in data["integrations"] if i["name"] == "Haiku")
        item["name"] = "HAIKU"  # matched case-insensitively
        item["request_json"] = '{"max_tokens": 10}'
        support = next(p for p in data["prompts"] if p["slug"] == "support-answer")
        extra = dict(support["versions"][1], number=3, change_note="From staging")
        support["versions"].append(extra)
        support["versions"][0]["response_path"] = "changed"  # existing versions never change
        support["published_version"] = 3

        report = transfer.import_data(data)

        haiku.refresh_from_db()
        assert haiku.request_json == '{"max_tokens": 10}'
        assert load_headers(haiku.headers)[0] == Header("X-Api-Key", SECRET, True)
        assert haiku.fingerprint == haiku.configuration().fingerprint()
        assert not haiku.verified
        assert len(report.integrations.updated) == 1
        prompt = Prompt.objects.get(slug="support-answer")
        assert prompt.published_version.number == 3
        assert prompt.versions.get(number=1).response_path != "changed"
        assert prompt.versions.get(number=3).change_note == "From staging"
        assert any("v1 differs" in w for w in report.warnings)
        assert "added v3" in report.prompts.updated[0]

    def test_imported_versions_are_the_importers_with_the_files_history_as_information(
        self, alice, bob, client
    ):
        populate(alice)
        data = export_file.export_data()
        support = next(p for p in data["prompts"] if p["slug"] == "support-answer")
        forged = dict(support["versions"][1], number=3, author="alice")
        forged["created"] = "2001-02-03T04:05:06+00:00"
        support["versions"].append(forged)

        client.force_login(bob)
        body = json.dumps(data).encode()
        upload = SimpleUploadedFile("export.json", body, content_type="application/json")
        assert client.post("/prompts/import/", {"file": upload}).status_code == 200

        prompt = Prompt.objects.get(slug="support-answer")
        v3 = prompt.versions.get(number=3)
        assert v3.author == bob and v3.created > timezone.now() - timedelta(minutes=5)
        assert v3.imported and v3.original_author == "alice"
        assert v3.original_created == datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
        event = AuditEvent.objects.get(
            object_type="prompts_library.promptversion", object_id=str(v3.pk)
        )
        assert event.actor == bob
        page = client.get(f"/prompts/{prompt.pk}/").text
        assert "imported; originally by alice, 2001-02-03 04:05" in page
        # Exported again, the version says who wrote it and when, as its file did.
        again = next(p for p in export_file.export_data()["prompts"] if p["slug"] == prompt.slug)
        assert again["versions"][2]["author"] == "alice"
        assert again["versions"][2]["created"] == "2001-02-03T04:05:06+00:00"

    def test_dry_run_writes_nothing(self, alice):
        populate(alice)
        data = export_file.export_data()
        wipe()
        report = transfer.import_data(data, dry_run=True)
        assert report.dry_run and len(report.prompts.created) == 2
        assert "Dry run" in str(report)
        assert counts() == (0, 0, 0, 0, 0)


@pytest.mark.django_db
class TestMalformed:
    @pytest.mark.parametrize("case", BREAKAGES)
    def test_a_clear_error_and_nothing_written(self, alice, case):
        populate(alice)
        data = export_file.export_data()
        wipe()
        how, message = BREAKAGES[case]
        # Prompts come last, so a half import would already have written the integrations.
        with pytest.raises(import_check.TransferError, match=None) as e:
            transfer.import_data(_broken(data, how))
        assert message in str(e.value)
        assert counts() == (0, 0, 0, 0, 0)

    @pytest.mark.parametrize(
        "request_json",
        ['{"a": NaN}', '{"a": -Infinity}', '{"max_tokens": 1e999}', "[1]", "{" * 5000],
    )
    def test_a_request_json_is_refused_as_the_form_refuses_it(self, alice, request_json):
        populate(alice)
        data = export_file.export_data()
        wipe()
        data["integrations"][0]["request_json"] = request_json
        form = IntegrationForm(
            QueryDict(urlencode(integration_form_data(request_json=request_json), doseq=True))
        )
        assert not form.is_valid()
        [form_message] = form.errors["request_json"]
        with pytest.raises(import_check.TransferError) as e:
            transfer.import_data(data)
        assert str(e.value) == f"integrations[0].request_json: {form_message}"
        assert counts() == (0, 0, 0, 0, 0)

    def test_not_json(self):
        with pytest.raises(import_check.TransferError, match="not valid JSON"):
            import_check.load(b"{nope")
        with pytest.raises(import_check.TransferError, match="not a Bedrock Console export"):
            transfer.import_data([])  # type: ignore[arg-type]


@pytest.mark.django_db
class TestCommands:
    def test_export_and_import(self, alice, tmp_path):
        populate(alice)
        path = tmp_path / "export.json"
        call_command("export_console", "--output", str(path), stderr=io.StringIO())
        stdout = io.StringIO()
        call_command("export_console", stdout=stdout)
        assert json.loads(stdout.getvalue())["format"] == "bedrock-console-export"
        assert SECRET not in path.read_text()
        wipe()

        out = io.StringIO()
        call_command("import_console", str(path), "--dry-run", stdout=out)
        assert "Dry run" in out.getvalue() and counts() == (0, 0, 0, 0, 0)

        out = io.StringIO()
        call_command("import_console", str(path), stdout=out)
        assert "Created prompt: Support answer" in out.getvalue()
        assert "X-Api-Key needs a value" in out.getvalue()
        assert Prompt.objects.count() == 2

    def test_import_of_a_file_nested_too_deeply(self, tmp_path):
        path = tmp_path / "deep.json"
        path.write_text("[" * 50_000 + "]" * 50_000)
        with pytest.raises(CommandError, match="The file is nested more than 64 levels deep"):
            call_command("import_console", str(path))

    def test_import_of_a_broken_file(self, tmp_path):
        path = tmp_path / "bad.json"
        path.write_text('{"format": "nope"}')
        with pytest.raises(CommandError, match="Nothing was imported"):
            call_command("import_console", str(path))
        with pytest.raises(CommandError, match="Cannot read"):
            call_command("import_console", str(tmp_path / "missing.json"))
