"""Fast typing and pasting on the setup form: the values on screen are the ones tested and saved.

Leaving a field asks the server for suggestions (External ID of a known provider, the endpoint
and body for the model); their answers arrive while the admin is already typing elsewhere.
"""

import json
import random
import re
import secrets

import pytest
from playwright.sync_api import expect

from integrations.models import BedrockModel
from tests.browser.conftest import sign_in
from tests.conftest import SANDBOX_URL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RUNS = 20
PROVIDER = "Bedrock Anthropic"
MODEL_ARN = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"


def typed_values(run: int) -> dict[str, str]:
    token = secrets.token_hex(4)
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64 + run,
        "messages": [{"role": "user", "content": f"Typed on run {run} ({token})"}],
    }
    return {
        "Provider Name": PROVIDER,
        "Model Name": f"Haiku {run} {token}",
        "IAM Role ARN": f"arn:aws:iam::111122223333:role/Race{run}{token}",
        "Amazon STS API": SANDBOX_URL,
        "External ID": f"race-{run}-{token}",
        "Amazon Bedrock ARN": MODEL_ARN,
        "Endpoint": SANDBOX_URL,
        "Request JSON": json.dumps(body, indent=2 if run % 2 else None),
    }


def enter(page, label: str, value: str, rng: random.Random) -> None:
    """Type or paste, the way people do: some fields typed key by key, most pasted at once."""
    field = page.get_by_label(label, exact=True)
    how = rng.choice(["paste", "paste", "type"]) if len(value) < 80 else "paste"
    field.click()
    field.press("ControlOrMeta+a")
    if how == "type":
        field.press_sequentially(value)
    else:
        page.keyboard.insert_text(value)  # one input event carrying the whole text, as a paste


def test_fast_fills_test_and_save_exactly_what_was_typed(page, alice, sandbox, celery_worker):
    rng = random.Random(8)  # noqa: S311 - pauses and typing styles, not secrets
    sign_in(page, "alice", "alice-password-long")
    for run in range(RUNS):
        values = typed_values(run)
        sandbox.state.add_role(values["IAM Role ARN"], external_id=values["External ID"])
        page.goto("/integrations/new/")
        for label, value in values.items():
            enter(page, label, value, rng)
            page.wait_for_timeout(rng.randint(0, 300))
        page.get_by_role("button", name="Test", exact=True).click()

        result = page.locator("#test-result")
        expect(result.get_by_role("heading", name="Success")).to_be_visible(timeout=15_000)
        for label, value in values.items():
            assert page.get_by_label(label, exact=True).input_value() == value, (run, label)
        received = [r for r in sandbox.state.requests() if r["role_arn"] == values["IAM Role ARN"]]
        assert len(received) == 1, run
        assert received[0]["model_id"] == MODEL_ARN
        assert received[0]["body"] == values["Request JSON"], run
        first_line = result.locator(".body-line")
        expect(first_line).to_contain_text('"anthropic_version": "bedrock-2023-05-31"')

        page.get_by_role("button", name="Save").click()
        page.wait_for_url(re.compile(r"/integrations/\d+/$"))
        saved = BedrockModel.objects.select_related("provider").get(name=values["Model Name"])
        assert saved.provider.name == PROVIDER
        assert saved.role_arn == values["IAM Role ARN"]
        assert saved.sts_endpoint == SANDBOX_URL
        assert saved.external_id == values["External ID"]
        assert saved.model_id == MODEL_ARN
        assert saved.endpoint == SANDBOX_URL
        assert saved.request_json == values["Request JSON"]
        assert saved.verified
    assert page.csp_violations == []
