"""The Import page: a dry run, a report, and a clear refusal of a bad file."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from prompts_library import export_file
from prompts_library.models import Prompt
from tests.prompts.helpers import assert_refused_without_a_role, counts, populate, wipe


@pytest.mark.django_db
class TestImport:
    def test_import_page(self, alice_client, alice):
        populate(alice)
        body = export_file.dumps(export_file.export_data()).encode()
        wipe()
        page = alice_client.get("/prompts/import/")
        assert page.status_code == 200 and 'type="file"' in page.text
        assert "<script" not in page.text.split("<main")[-1]

        upload = SimpleUploadedFile("export.json", body, content_type="application/json")
        r = alice_client.post("/prompts/import/", {"file": upload, "dry_run": "on"})
        assert r.status_code == 200 and "Dry run" in r.text
        assert counts() == (0, 0, 0, 0, 0)

        upload = SimpleUploadedFile("export.json", body, content_type="application/json")
        r = alice_client.post("/prompts/import/", {"file": upload})
        assert r.status_code == 200 and 'id="import-report"' in r.text
        assert "X-Api-Key needs a value" in r.text
        assert Prompt.objects.count() == 2

        bad = SimpleUploadedFile("bad.json", b'{"format": "x"}', content_type="application/json")
        r = alice_client.post("/prompts/import/", {"file": bad})
        assert r.status_code == 400 and "Nothing was imported" in r.text

    def test_a_file_nested_too_deeply_is_refused_with_a_clear_message(self, alice_client):
        before = counts()
        deep = b'{"format": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
        upload = SimpleUploadedFile("deep.json", deep, content_type="application/json")
        r = alice_client.post("/prompts/import/", {"file": upload})
        assert r.status_code == 400
        assert "Nothing was imported. The file is nested more than 64 levels deep." in r.text
        assert counts() == before

    @pytest.mark.parametrize("url", ["/prompts/import/"])
    def test_users_without_a_role_are_refused(self, client, charlie, url):
        assert_refused_without_a_role(client, charlie, url)
