"""After a live test, every part of a page that depends on it agrees, without a reload."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.integrations.fixtures import make_integration

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_integration_page_agrees_with_its_finished_test(page, alice, sandbox, celery_worker):
    integration = make_integration(tested=False)
    sign_in(page, "alice", "alice-password-long")
    page.goto(f"/integrations/{integration.pk}/")
    badge = page.locator(".page-head .badge")
    expect(badge).to_have_text("Unverified")
    expect(page.locator("#test-history")).to_contain_text("No tests yet.")
    assert page.get_by_role("button", name="Test again").count() == 0

    sandbox.state.set_config(invoke_delay_ms=1500)  # long enough to see the test in progress
    page.get_by_role("button", name="Test", exact=True).click()
    page.wait_for_url(f"**/integrations/{integration.pk}/")
    expect(page.locator(".test-status p.muted[role=status]")).to_be_visible()  # in progress
    history_row = page.locator("#test-history tbody tr").first
    expect(history_row).not_to_contain_text("Success")

    expect(page.get_by_role("heading", name="Success")).to_be_visible(timeout=15_000)
    expect(badge).to_have_text("Verified")
    expect(history_row).to_contain_text("Success")
    expect(page.locator("#test-history")).not_to_contain_text("No tests yet.")
    expect(page.locator("#test-history")).not_to_contain_text("Queued")
    expect(page.locator("#verify-warning")).to_be_empty()
    expect(page.get_by_role("button", name="Test again")).to_be_visible()
    assert page.csp_violations == []


def test_the_home_page_shows_a_test_that_ends_while_it_is_open(page, alice, sandbox, celery_worker):
    from integrations import services

    integration = make_integration(tested=False)
    sign_in(page, "alice", "alice-password-long")
    sandbox.state.set_config(invoke_delay_ms=1500)
    services.start_test(integration.configuration(), alice, integration)
    page.goto("/")
    row = page.locator(f"#integration-{integration.pk}")
    expect(row.locator(".last-test")).not_to_contain_text("Success")
    expect(row.locator(".badge")).to_have_text("Unverified")

    expect(row.locator(".last-test")).to_contain_text("Success", timeout=15_000)
    expect(row.locator(".last-test")).to_contain_text("just now")
    expect(row.locator(".badge")).to_have_text("Verified")
    assert page.csp_violations == []


def test_the_prompt_page_agrees_with_its_finished_test(page, alice, sandbox, celery_worker):
    from tests.prompts.fixtures import make_prompt

    prompt = make_prompt(alice)
    sign_in(page, "alice", "alice-password-long")
    page.goto(f"/prompts/{prompt.pk}/")
    history = page.locator("#prompt-test-history")
    expect(history).to_contain_text("No tests yet.")
    expect(page.locator(".samples")).to_contain_text('Say "hi"')  # the version's sample values

    sandbox.state.set_config(invoke_delay_ms=800)
    page.get_by_role("button", name="Test v1").click()
    expect(history).not_to_contain_text("No tests yet.")  # the queued test is listed at once
    expect(page.locator("#test-result").get_by_role("heading", name="Success")).to_be_visible()
    expect(history.locator("tbody tr").first).to_contain_text("Success")
    expect(history).not_to_contain_text("Queued")
    expect(history).not_to_contain_text("Running")
    assert page.csp_violations == []
