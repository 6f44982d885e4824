"""Export for log pipelines: JSON Lines and formula-safe CSV of a filtered view, streamed, and
each new event on AUDIT_LOG_STREAM. The line format is a contract (README, "Audit trail")."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
from django.db import transaction
from django.http import StreamingHttpResponse

from audit import archive, export, recorder
from audit.models import AuditEvent
from tests.audit.test_audit import save_with_secret
from tests.integrations.fixtures import SECRET

URL = "/admin/audit/auditevent/"
A = AuditEvent.Action
README = Path(__file__).resolve().parents[2] / "README.md"


def body(response) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


def verifies(line: dict) -> bool:
    """A line checked on its own: its hash is the hash of what it says."""
    return archive.event_from_line(line).compute_hash() == line["hash"]


@pytest.mark.django_db
class TestJsonLines:
    def test_the_filtered_view_parses_back(self, alice_client, alice):
        integration = save_with_secret()
        recorder.record(A.UPDATE, integration, {"name": ["Haiku", "Sonnet"]}, user=alice)
        r = alice_client.get(URL + "export.jsonl", {"kind": "integration", "action": "update"})
        assert r.status_code == 200 and r["Content-Type"].startswith("application/jsonl")
        text = body(r)
        assert SECRET not in text
        lines = [json.loads(line) for line in text.splitlines()]
        expected = AuditEvent.objects.filter(
            object_type="integrations.bedrockmodel", action=A.UPDATE
        )
        assert [line["id"] for line in lines] == sorted(expected.values_list("id", flat=True))
        last = lines[-1]
        assert list(last) == list(export.FIELDS)  # the format: these keys, in this order
        assert last["kind"] == "Integration" and last["changes"] == {"name": ["Haiku", "Sonnet"]}
        assert last["actor_repr"] == "alice" and last["actor_id"] == alice.pk
        assert all(verifies(line) for line in lines)
        exported = AuditEvent.objects.filter(action=A.EXPORT).latest("id")
        assert exported.changes["format"] == "jsonl"
        assert "kind=integration" in exported.changes["filters"]

    def test_the_readme_example_is_the_format(self):
        text = README.read_text()
        example = re.search(r"```json\n(\{\"id\".*?\})\n```", text, re.S)
        assert example, "README's audit section shows one JSON line"
        line = json.loads(example.group(1))
        assert list(line) == list(export.FIELDS)

    def test_only_with_the_export_permission(self, client, bob):
        client.force_login(bob)  # a Publisher
        assert client.get(URL + "export.jsonl").status_code == 403
        assert "Export JSON Lines" not in client.get(URL).text
        assert not AuditEvent.objects.filter(action=A.EXPORT).exists()

    def test_an_unknown_format_or_bad_filter_is_no_500(self, alice_client):
        assert alice_client.get(URL + "export.xml").status_code == 404
        r = alice_client.get(URL + "export.csv", {"nonsense__field": "1"})
        assert r.status_code in (400, 404)


@pytest.mark.django_db
class TestCsv:
    @pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", ";", "|"])
    def test_cells_that_spreadsheets_would_run_stay_text(self, alice_client, start):
        recorder.record(
            A.UPDATE,
            object_type="integrations.provider",
            object_id="1",
            object_repr=f"{start}cmd|' /C calc'!A0",
        )
        r = alice_client.get(URL + "export.csv", {"kind": "provider"})
        rows = list(csv.reader(io.StringIO(body(r))))
        assert rows[0] == list(export.CSV_FIELDS)
        cell = rows[1][export.CSV_FIELDS.index("object_repr")]
        assert cell == f"'{start}cmd|' /C calc'!A0"

    def test_changes_are_json_and_kinds_are_names(self, alice_client):
        save_with_secret()
        rows = list(
            csv.DictReader(
                io.StringIO(body(alice_client.get(URL + "export.csv", {"kind": "integration"})))
            )
        )
        assert rows and {r["kind"] for r in rows} == {"Integration"}
        assert all(isinstance(json.loads(r["changes"]), dict) for r in rows)

    def test_streams_in_chunks(self, alice_client, django_assert_max_num_queries):
        for i in range(2 * export.CHUNK + 10):
            AuditEvent.objects.create(
                created="2026-01-01T00:00:00Z",
                action=A.UPDATE,
                object_type="integrations.provider",
                object_id=str(i),
                prev_hash="x",
                hash=f"h{i}",
            )
        r = alice_client.get(URL + "export.csv", {"kind": "provider"})
        content = r.streaming_content
        first = next(iter(content))
        assert first.startswith(b"id,created")
        assert sum(1 for _ in content) == 2 * export.CHUNK + 10


@pytest.mark.django_db
class TestLogStream:
    def test_committed_events_are_written_as_json_lines(
        self, settings, tmp_path, django_capture_on_commit_callbacks, alice
    ):
        path = tmp_path / "audit.jsonl"
        settings.AUDIT_LOG_STREAM = str(path)
        with django_capture_on_commit_callbacks(execute=True):
            kept = recorder.record(
                A.UPDATE, object_type="integrations.provider", object_id="1", user=alice
            )
            with pytest.raises(RuntimeError), transaction.atomic():
                recorder.record(A.UPDATE, object_type="integrations.provider", object_id="2")
                raise RuntimeError("rolled back")
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert [line["id"] for line in lines] == [kept.pk]
        assert list(lines[0]) == list(export.FIELDS) and verifies(lines[0])

    def test_stdout(self, settings, capsys, django_capture_on_commit_callbacks):
        settings.AUDIT_LOG_STREAM = "stdout"
        with django_capture_on_commit_callbacks(execute=True):
            recorder.record_pending(
                A.TOKEN_USED, object_type="prompts_library.apitoken", object_id=3
            )
            recorder.chain_pending()
        out = [
            json.loads(line)
            for line in capsys.readouterr().out.splitlines()
            if line.startswith("{")
        ]
        assert [(o["action"], o["object_id"], o["kind"]) for o in out] == [
            ("token_used", "3", "API token")
        ]

    def test_off_by_default(self, settings, capsys, django_capture_on_commit_callbacks):
        assert settings.AUDIT_LOG_STREAM == ""
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            recorder.record(A.UPDATE, object_type="integrations.provider", object_id="1")
        assert callbacks == [] and capsys.readouterr().out == ""
