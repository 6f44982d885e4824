"""An administrator creates, tests, publishes, edits, compares and rolls back a prompt, in
Debian's Chromium, against the sandbox and a real Celery worker."""

import json
import re

import pytest
from playwright.sync_api import expect

from prompts_library.models import Feature, Prompt
from tests.browser.conftest import sign_in
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import CLAUDE_PATH

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEMPLATE = """{
  "anthropic_version": "bedrock-2023-05-31",
  "max_tokens": 64,
  "messages": [{"role": "user", "content": "{{question}}"}]
}"""
SAMPLE = 'Is "this" quoted?\nAnd on a new line'


def test_create_test_publish_edit_compare_roll_back(page, alice, sandbox, celery_worker):
    # transactional tests flush the tables, and with them the migrations' built-in features
    Feature.objects.get_or_create(name="Co-pilot")
    integration = make_integration()
    sign_in(page, "alice", "alice-password-long")
    page.goto("/prompts/new/")

    page.get_by_label("Name").fill("Support answer")
    page.get_by_label("Model").select_option(label=str(integration))
    # choosing the model prefills the family's starting point (with an {{input}} variable)
    expect(page.get_by_label("Sample: input")).to_be_visible()
    expect(page.get_by_label("Response path")).to_have_value(CLAUDE_PATH)
    page.get_by_label("Feature").select_option(label="Co-pilot")

    page.get_by_label("Request JSON").fill(TEMPLATE)
    sample = page.get_by_label("Sample: question")
    expect(sample).to_be_visible()
    expect(page.get_by_label("Sample: input")).to_have_count(0)
    sample.fill(SAMPLE)
    page.get_by_label("Change note").fill("First draft")
    page.get_by_role("button", name="Create prompt").click()
    page.wait_for_url(re.compile(r"/prompts/\d+/$"))
    prompt = Prompt.objects.get()
    assert prompt.versions.get().samples["question"] == SAMPLE
    expect(page.locator(".page-head .badge")).to_have_text("Not published")

    page.get_by_role("button", name="Test v1").click()
    result = page.locator("#test-result")
    expect(result.get_by_role("heading", name="Success")).to_be_visible()
    output = result.locator(".output")
    expect(output).to_contain_text("Hello from the Bedrock sandbox. You said: ")
    expect(output).to_contain_text("You said: " + SAMPLE)  # whitespace-normalised
    assert prompt.tests.get().extracted_text.endswith("You said: " + SAMPLE)
    expect(result).to_contain_text("Tokens")
    # a value of the raw response offers itself as the Response path
    result.locator('.json-leaf[data-path="usage.output_tokens"]').click()
    expect(result.locator(".picked-path code")).to_have_text("usage.output_tokens")

    # Publish and Roll back ask first (tests/browser/test_rough_edges.py): say yes here.
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".page-head .badge")).to_have_text("Published: v1")

    # version 2
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Sample: question")).to_have_value(SAMPLE)
    page.get_by_label("Request JSON").fill(TEMPLATE.replace('"max_tokens": 64', '"max_tokens": 99'))
    # test the unsaved values, then pick the Response path from the raw response
    page.get_by_role("button", name="Test these values").click()
    result = page.locator("#test-result")
    expect(result.get_by_role("heading", name="Success")).to_be_visible()
    draft = prompt.tests.get(version=None)
    assert json.loads(draft.rendered_request)["max_tokens"] == 99
    assert prompt.versions.count() == 1
    result.locator('.json-leaf[data-path="content[0].text"]').click()
    expect(page.get_by_label("Response path")).to_have_value("content[0].text")
    page.get_by_label("Change note").fill("More tokens")
    page.get_by_role("button", name="Save as a new version").click()
    page.wait_for_url(re.compile(r"/prompts/\d+/$"))
    expect(page.get_by_text("Saved version 2.")).to_be_visible()
    assert prompt.versions.get(number=2).response_path == "content[0].text"
    expect(page.locator(".page-head .badge")).to_have_text("Published: v1")

    page.get_by_role("link", name="Compare versions").click()
    expect(page.get_by_role("heading", name="Request JSON")).to_be_visible()
    diff = page.locator(".diff-section").first
    expect(diff).to_contain_text('"max_tokens": 64')
    expect(diff).to_contain_text('"max_tokens": 99')
    expect(page.get_by_text("v1: First draft")).to_be_visible()

    # v2 goes live, then turns out worse: roll back to v1
    page.get_by_role("link", name="Support answer").click()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".page-head .badge")).to_have_text("Published: v2")
    page.locator("tr", has_text="First draft").get_by_role(
        "button", name="Roll back to this"
    ).click()
    expect(page.get_by_text("Rolled back: version 3 has version 1's content.")).to_be_visible()
    prompt.refresh_from_db()
    v1, v3 = prompt.versions.get(number=1), prompt.versions.get(number=3)
    assert v3.request_template == v1.request_template
    assert v3.samples == v1.samples
    assert prompt.published_version == v3
    expect(page.locator(".page-head .badge")).to_have_text("Published: v3")

    # the model's page lists the published prompt; one click re-tests it, live
    page.goto(integration.get_absolute_url())
    affected = page.locator("#affected-prompts")
    expect(affected.locator("tr", has_text="Support answer")).to_contain_text("v3")
    affected.get_by_role("button", name="Re-test affected prompts").click()
    expect(affected.locator(".test-badge .badge.ok")).to_have_text("Success")
    assert prompt.tests.filter(version=v3, status="succeeded").exists()
    assert page.csp_violations == []
