"""The small things a new administrator meets, that only a browser shows."""

import pytest
from playwright.sync_api import expect

from integrations.models import BedrockModel
from prompts_library.models import ApiToken
from tests.browser.conftest import sign_in
from tests.browser.test_setup_flow import fill_step_2
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import make_prompt

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_publish_asks_first_and_no_means_nothing_happens(page, alice, sandbox):
    prompt = make_prompt(alice, published=False)
    sign_in(page, "alice", "alice-password-long")
    page.goto(f"/prompts/{prompt.pk}/")
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".page-head .badge")).to_have_text("Not published")
    assert asked and "Publish v1" in asked[0]
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".page-head .badge")).to_have_text("Published: v1")
    expect(page.locator("table.versions th").last).to_have_text("Actions")


def test_a_new_token_has_copy_and_revoke_asks_first(page, browser, alice, sandbox):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, "alice", "alice-password-long")
    page.goto("/prompts/tokens/")
    page.get_by_label("Name").fill("Support bot")
    page.get_by_label("All prompts").check()
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("bcp_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == token

    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.get_by_role("button", name="Revoke").click()
    assert asked and "Revoke the token Support bot" in asked[0]
    assert ApiToken.objects.get().revoked_at is None
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator("td .badge.bad")).to_have_text("Revoked")


def test_invalid_fields_are_marked_and_http_asks_for_https(page, alice, sandbox):
    sign_in(page, "alice", "alice-password-long")
    page.goto("/integrations/new/")
    fill_step_2(page)
    page.get_by_label("IAM Role ARN").fill("arn:aws:iam::123:role/x")
    page.get_by_label("Endpoint", exact=True).fill("http://bedrock.example.com")
    page.get_by_role("button", name="Test", exact=True).click()
    role = page.get_by_label("IAM Role ARN")
    expect(role).to_have_attribute("aria-invalid", "true")
    color = role.evaluate("e => getComputedStyle(e).borderTopColor")
    assert color == "rgb(179, 38, 30)"  # --bad
    endpoint_errors = page.locator("#errors-endpoint")
    expect(endpoint_errors).to_contain_text("Use https")
    expect(endpoint_errors).not_to_contain_text("EXTRA_AWS_ENDPOINTS")
    expect(page.get_by_label("Model Name", exact=True)).not_to_have_attribute(
        "aria-invalid", "true"
    )
    # fixed and tested again: the mark goes
    role.fill("arn:aws:iam::111122223333:role/BedrockConsoleSandbox")
    page.get_by_role("button", name="Test", exact=True).click()
    expect(role).not_to_have_attribute("aria-invalid", "true")


def test_search_box_long_arns_and_favicon(page, alice, sandbox):
    long_role = "arn:aws:iam::111122223333:role/" + "platform/" * 8 + "BedrockConsoleRole"
    integration = make_integration()
    BedrockModel.objects.filter(pk=integration.pk).update(role_arn=long_role)
    page.set_viewport_size({"width": 1024, "height": 800})
    sign_in(page, "alice", "alice-password-long")
    search = page.get_by_role("searchbox")
    fits = search.evaluate(
        """e => {
            const style = getComputedStyle(e);
            const ctx = document.createElement("canvas").getContext("2d");
            ctx.font = style.font;
            const room = e.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
            return ctx.measureText(e.placeholder).width <= room;
        }"""
    )
    assert fits, "the search box's placeholder is cut off"

    page.goto(f"/integrations/{integration.pk}/")
    expect(page.get_by_text(long_role)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(icon).ok
    response = page.request.get("/favicon.ico")
    assert response.ok and "svg" in response.headers["content-type"]
