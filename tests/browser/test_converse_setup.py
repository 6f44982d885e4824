"""Choosing the Converse request format in the setup form, in Debian's Chromium."""

import json
import re

import pytest
from playwright.sync_api import expect

from bedrock import families
from integrations.models import BedrockModel
from tests.browser.conftest import sign_in
from tests.browser.test_setup_flow import fill_step_2

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_converse_is_prefilled_tested_and_saved(page, alice, sandbox, celery_worker):
    sign_in(page, "alice", "alice-password-long")
    page.goto("/integrations/new/")
    fill_step_2(page)
    page.get_by_label("Request format").select_option(
        label="Converse (same messages for every model)"
    )
    body = page.get_by_label("Request JSON")
    expect(body).to_have_value(families.converse_request_json())

    page.get_by_role("button", name="Test").click()
    result = page.locator("#test-result")
    expect(result.get_by_role("heading", name="Success")).to_be_visible()
    expect(result).to_contain_text("Hello from the Bedrock sandbox. You said: Hello")
    expect(result).to_contain_text("Stop reason")
    expect(result).to_contain_text("end_turn")
    expect(result).to_contain_text("Tokens")
    assert sandbox.state.requests()[-1]["operation"] in ("Converse", "ConverseStream")

    save = page.get_by_role("button", name="Save")
    expect(save).to_be_enabled()
    save.click()
    page.wait_for_url(re.compile(r"/integrations/\d+/$"))
    expect(page.locator(".page-head .badge")).to_have_text("Verified")
    integration = BedrockModel.objects.get()
    assert integration.request_format == "converse"
    assert json.loads(integration.request_json) == families.CONVERSE_EXAMPLE
    assert page.csp_violations == []
