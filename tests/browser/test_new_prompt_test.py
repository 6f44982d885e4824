"""A prompt is tried from the new prompt page, then created with the samples it was tried with."""

import re

import pytest
from playwright.sync_api import expect

from prompts_library.models import Feature, Prompt
from tests.browser.conftest import sign_in
from tests.browser.test_prompts_flow import TEMPLATE
from tests.integrations.fixtures import make_integration

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_prompt_is_tested_before_it_is_created(page, alice, sandbox, celery_worker):
    Feature.objects.get_or_create(name="Co-pilot")
    integration = make_integration()
    sign_in(page, "alice", "alice-password-long")
    page.goto("/prompts/new/")
    page.get_by_label("Model").select_option(label=str(integration))
    page.get_by_label("Request JSON").fill(TEMPLATE)
    sample = page.get_by_label("Sample: question")
    expect(sample).to_be_visible()
    sample.fill("Tried before it exists")

    page.get_by_role("button", name="Test", exact=True).click()
    result = page.locator("#test-result")
    expect(result.get_by_role("heading", name="Success")).to_be_visible(timeout=15_000)
    expect(result.locator(".output")).to_contain_text("You said: Tried before it exists")
    assert not Prompt.objects.exists()

    page.get_by_label("Name").fill("Tried first")
    page.get_by_label("Feature").select_option(label="Co-pilot")
    page.get_by_role("button", name="Create prompt").click()
    page.wait_for_url(re.compile(r"/prompts/\d+/$"))
    assert Prompt.objects.get().versions.get().samples == {"question": "Tried before it exists"}
    expect(page.locator(".samples")).to_contain_text("Tried before it exists")
    assert page.csp_violations == []


def test_a_suggestion_that_lands_in_the_field_being_typed_in_gives_way_to_the_typing(page, alice):
    """The model's starting point arrives while the admin is already in the empty Request JSON
    field: it arrives selected, so what they type replaces it instead of being appended to it."""
    integration = make_integration()
    sign_in(page, "alice", "alice-password-long")
    page.goto("/prompts/new/")
    body = page.get_by_label("Request JSON")
    body.focus()
    # The model is chosen while the admin's caret is in the empty field (as when the answer is
    # slower than their move to the field); the select is changed without taking the focus.
    page.eval_on_selector(
        "#id_integration",
        "(select, value) => { select.value = value;"
        " select.dispatchEvent(new Event('change', {bubbles: true})); }",
        str(integration.pk),
    )
    expect(body).to_have_value(re.compile("anthropic_version"))
    expect(body).to_be_focused()
    page.keyboard.insert_text(TEMPLATE)
    expect(body).to_have_value(TEMPLATE)
    assert page.csp_violations == []
