"""Under /api/ every answer is the JSON error, whatever the path, and hostile references do not crash."""

import pytest

from audit.models import AuditEvent, PendingEvent
from prompts_library.models import ApiToken


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/", "/api/v1/nothing", "/api/v1/prompts/x/invoke/extra"])
def test_unknown_api_paths_get_a_json_404(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r["Content-Type"] == "application/json"
    assert r.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ref", ["x%00y", "%C2%B2", "%D9%A1%D9%A2", "9" * 30, "0", "%F0%9F%98%80", "a" * 500]
)
def test_unusual_prompt_references_are_a_json_404(client, bob, ref):
    token = ApiToken.issue("t", bob, all_prompts=True)[1]
    r = client.post(
        f"/api/v1/prompts/{ref}/invoke",
        b"{}",
        content_type="application/json",
        headers={"authorization": f"Bearer {token}"},
    )
    assert r.status_code == 404, r.content
    assert r.json()["error"]["code"] == "not_found"
    if "%00" in ref:
        # The token use is on record, with the NUL escaped (PostgreSQL text cannot hold it).
        paths = [
            changes["path"]
            for model in (PendingEvent, AuditEvent)
            for changes in model.objects.filter(action="token_used").values_list(
                "changes", flat=True
            )
        ]
        assert paths == ["/api/v1/prompts/x\\x00y/invoke"]
