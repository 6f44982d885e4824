"""The Export download."""

import json

import pytest

from tests.integrations.fixtures import SECRET
from tests.prompts.helpers import assert_refused_without_a_role, populate


@pytest.mark.django_db
class TestExport:
    def test_export_download(self, alice_client, alice):
        populate(alice)
        r = alice_client.get("/prompts/export/")
        assert r.status_code == 200
        assert r["Content-Type"] == "application/json"
        assert r["Content-Disposition"].startswith("attachment; filename=")
        assert json.loads(r.content)["format"] == "bedrock-console-export"
        assert SECRET.encode() not in r.content

    @pytest.mark.parametrize("url", ["/prompts/export/"])
    def test_users_without_a_role_are_refused(self, client, charlie, url):
        assert_refused_without_a_role(client, charlie, url)
