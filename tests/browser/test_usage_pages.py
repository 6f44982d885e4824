"""An administrator opens each usage page in Debian's Chromium and sees its charts."""

import pytest
from playwright.sync_api import expect

from prompts_library.models import ApiToken
from tests.browser.conftest import sign_in
from tests.prompts.fixtures import make_prompt
from tests.usage.helpers import report
from usage.models import CallRecord

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_each_usage_page_shows_its_charts(page, alice):
    prompt = make_prompt()
    token, _ = ApiToken.issue("Co-pilot backend", all_prompts=True)
    for i in range(6):
        report(
            integration_id=prompt.integration_id,
            prompt_id=prompt.pk,
            version_id=prompt.published_version_id,
            feature="Co-pilot",
            token_id=token.pk,
            ok=i != 0,
            error_code="" if i else "ThrottlingException",
            total_ms=200 + 50 * i,
            input_tokens=30,
            output_tokens=60,
        )
    sign_in(page, "alice", "alice-password-long")
    page.get_by_role("link", name="Usage", exact=True).first.click()
    page.wait_for_url("**/usage/")

    def sees_charts(count):
        charts = page.locator("svg.chart")
        expect(charts).to_have_count(count)
        for i in range(count):
            box = charts.nth(i).bounding_box()
            assert box and box["width"] > 200 and box["height"] > 50
        # Hover values are SVG titles: the bucket of now names its figures.
        assert page.locator("svg.chart rect.hit title", has_text="Calls 6, Errors 1").count() >= 1

    sees_charts(4)
    expect(page.locator("#total-calls")).to_have_text("6")
    for range_name in ("Last hour", "Last 7 days", "Last 30 days"):
        page.get_by_role("link", name=range_name).click()
        sees_charts(4)
        expect(page.locator("#total-calls")).to_have_text("6")

    page.get_by_role("link", name=str(prompt.integration)).first.click()
    sees_charts(4)
    # Prices are set on the integration's form, prefilled from the dated list.
    page.get_by_role("link", name="Edit prices").click()
    expect(page.get_by_label("Price per 1K input tokens (USD)")).to_have_value("0.00025")
    page.goto("/usage/")
    page.get_by_role("link", name="Co-pilot backend").first.click()
    sees_charts(4)
    # Limits are set on the token's own form, which shows its use against them.
    page.get_by_role("link", name="Edit limits").click()
    page.get_by_label("Requests per minute").fill("100")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Limits saved.")).to_be_visible()
    expect(page.locator("#token-use")).to_contain_text("100")
    page.goto("/usage/")
    page.get_by_role("link", name="Co-pilot").first.click()
    sees_charts(4)
    page.go_back()
    page.get_by_role("link", name=f"{prompt.name} v1").click()
    sees_charts(4)
    page.get_by_role("link", name="Compare versions").click()
    expect(page.locator("#versions")).to_contain_text("v1")

    page.goto("/usage/calls/")
    expect(page.locator("#calls tbody tr")).to_have_count(6)
    page.get_by_label("Outcome").select_option("error")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#calls tbody tr")).to_have_count(1)
    failed = CallRecord.objects.get(ok=False)
    page.get_by_role("link", name=str(failed.pk), exact=True).click()
    expect(page.get_by_text("ThrottlingException")).to_be_visible()

    page.goto(f"/integrations/{prompt.integration_id}/")
    expect(page.locator("#usage-last-day svg.chart")).to_be_visible()
    page.goto(f"/prompts/{prompt.pk}/")
    expect(page.locator("#usage-last-day svg.chart")).to_be_visible()
    assert page.csp_violations == []
