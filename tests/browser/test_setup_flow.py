"""An administrator connects a model through the four steps, in Debian's Chromium."""

import re

import pytest
from playwright.sync_api import expect

from integrations.models import BedrockModel
from sandbox import DEMO_EXTERNAL_ID, DEMO_MODEL_ID, DEMO_ROLE_ARN
from tests.browser.conftest import sign_in
from tests.conftest import SANDBOX_URL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PROFILE_ID = f"us.{DEMO_MODEL_ID}"


def fill_step_2(page, external_id=DEMO_EXTERNAL_ID):
    page.get_by_label("Provider Name").fill("Bedrock Anthropic")
    page.get_by_label("Model Name", exact=True).fill("Haiku")
    page.get_by_label("IAM Role ARN").fill(DEMO_ROLE_ARN)
    page.get_by_label("Amazon STS API").fill(SANDBOX_URL + "/?Action=AssumeRole&Version=2011-06-15")
    page.get_by_label("External ID").fill(external_id)
    page.get_by_label("Amazon Bedrock ARN").fill(DEMO_MODEL_ID)
    page.get_by_label("Endpoint").fill(SANDBOX_URL)


def test_it_tests_saves_and_verifies(page, alice, sandbox, celery_worker):
    sign_in(page, "alice", "alice-password-long")
    page.goto("/integrations/new/")
    expect(page.get_by_text("Gather required information")).to_be_visible()
    fill_step_2(page)
    # A cross-region inference profile: step 1 shows what the role needs for it.
    page.get_by_label("Amazon Bedrock ARN").fill(PROFILE_ID)
    page.get_by_label("Amazon Bedrock ARN").press("Tab")
    policy = page.locator("#permission-policy")
    expect(policy).to_contain_text(
        f"arn:aws:bedrock:us-east-1:111122223333:inference-profile/{PROFILE_ID}"
    )
    expect(policy).to_contain_text(f"arn:aws:bedrock:us-west-2::foundation-model/{DEMO_MODEL_ID}")
    expect(policy).to_contain_text("bedrock:InferenceProfileArn")
    expect(page.locator("#model-summary")).to_contain_text(
        "us. geography cross-region inference profile"
    )
    expect(page.locator("#model-summary")).to_contain_text("Anthropic Claude (Messages)")
    save = page.get_by_role("button", name="Save")
    expect(save).to_be_disabled()

    page.get_by_role("button", name="Test").click()
    result = page.locator("#test-result")
    expect(result.get_by_role("heading", name="Success")).to_be_visible()
    expect(result).to_contain_text("Hello from the Bedrock sandbox. You said: Hi")
    expect(result).to_contain_text("Tokens")
    expect(save).to_be_enabled()

    # any edit disables Save until the values are tested again; undoing the edit restores it
    page.get_by_label("Model Name", exact=True).fill("Haiku 2")
    expect(save).to_be_disabled()
    page.get_by_label("Model Name", exact=True).fill("Haiku")
    expect(save).to_be_enabled()

    # The API model name was offered from the names; it is not part of what Test ran.
    api_name = page.get_by_label("API model name")
    expect(api_name).to_have_value("bedrock-anthropic-haiku")
    api_name.fill("support-haiku")
    expect(save).to_be_enabled()

    save.click()
    page.wait_for_url(re.compile(r"/integrations/\d+/$"))
    expect(page.locator(".page-head .badge")).to_have_text("Verified")
    expect(page.locator("dl.facts").first).to_contain_text("support-haiku")
    integration = BedrockModel.objects.get()
    assert integration.api_name == "support-haiku"
    assert integration.sts_endpoint == SANDBOX_URL  # the pasted ?Action=AssumeRole was normalised
    assert integration.model_id == PROFILE_ID
    assert page.csp_violations == []


def test_a_tests_answer_and_live_updates_read_the_form_once(page, alice, sandbox, celery_worker):
    """Save follows the values on screen; the answer's parts (every field's message box) and the
    live updates change no field, so the form is read once for them, not once per part."""
    sign_in(page, "alice", "alice-password-long")
    page.goto("/integrations/new/")
    fill_step_2(page)
    page.get_by_label("Amazon Bedrock ARN").press("Tab")
    page.wait_for_timeout(300)  # the suggestions for the model land
    page.evaluate(
        """() => {
        const Real = window.FormData;
        window.__formReads = 0;
        window.FormData = class extends Real {
          constructor(...args) { super(...args); window.__formReads += 1; }
        };
        }"""
    )
    page.get_by_role("button", name="Test").click()
    expect(page.locator("#test-result").get_by_role("heading", name="Success")).to_be_visible()
    save = page.get_by_role("button", name="Save")
    expect(save).to_be_enabled()
    # htmx's request, the values the Test ran, Save's look at them afterwards: a handful, not
    # one per swapped part and per live update (well over a hundred).
    assert page.evaluate("() => window.__formReads") <= 8
    page.get_by_label("Model Name", exact=True).fill("Haiku 2")
    expect(save).to_be_disabled()
    page.get_by_label("Model Name", exact=True).fill("Haiku")
    expect(save).to_be_enabled()


def test_a_wrong_external_id_shows_failed_with_its_hint(page, alice, sandbox, celery_worker):
    sign_in(page, "alice", "alice-password-long")
    page.goto("/integrations/new/")
    fill_step_2(page, external_id="not-the-configured-one")
    page.get_by_role("button", name="Test").click()
    result = page.locator("#test-result")
    expect(result.get_by_role("heading", name="Failed")).to_be_visible()
    expect(result).to_contain_text("AccessDenied")
    expect(result).to_contain_text("trust policy")
    expect(result).to_contain_text("arn:aws:iam::123456789012:user/bedrock-console-platform")
    expect(page.get_by_role("button", name="Save")).to_be_disabled()
    assert BedrockModel.objects.count() == 0


def test_bad_values_are_explained_beside_their_fields(page, alice, sandbox):
    sign_in(page, "alice", "alice-password-long")
    page.goto("/integrations/new/")
    fill_step_2(page)
    page.get_by_label("IAM Role ARN").fill("arn:aws:iam::123:role/x")
    page.get_by_role("button", name="Test").click()
    expect(page.locator("#errors-role_arn")).to_contain_text("12 digits")
    expect(page.locator("#test-result")).to_contain_text("Not tested")


def test_editing_a_verified_integration_keeps_save_until_something_changes(
    page, alice, sandbox, celery_worker
):
    from tests.integrations.fixtures import make_integration

    integration = make_integration()
    sign_in(page, "alice", "alice-password-long")
    page.goto(f"/integrations/{integration.pk}/edit/")
    save = page.get_by_role("button", name="Save")
    expect(save).to_be_enabled()
    page.get_by_label("Request JSON").fill('{"anthropic_version": "bedrock-2023-05-31"}')
    expect(save).to_be_disabled()
