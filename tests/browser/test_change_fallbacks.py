"""An administrator changes an integration's fallbacks in Debian's Chromium: from the integration's
page to Change fallbacks, a refused choice shown beside its field, then a fallback saved and shown
on the integration's page."""

import re

import pytest
from playwright.sync_api import expect

from audit.models import AuditEvent
from integrations import fallbacks
from tests.browser.conftest import sign_in
from tests.fallbacks.helpers import FALLBACK_MODEL, PRIMARY_MODEL, make_integration

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_a_fallback_and_see_it_on_the_integrations_page(page, alice):
    primary = make_integration(name="Haiku us-east-1", model_id=PRIMARY_MODEL)
    backup = make_integration(name="Haiku 3.5", model_id=FALLBACK_MODEL)
    sign_in(page, "alice", "alice-password-long")

    page.goto(f"/integrations/{primary.pk}/")
    section = page.locator("#fallbacks")
    expect(section).to_contain_text("No fallbacks: a throttled or failing call fails.")
    section.get_by_role("link", name="Change fallbacks").click()
    page.wait_for_url(f"**/integrations/{primary.pk}/fallbacks/")
    expect(page.get_by_role("heading", name=f"Fallbacks of {primary}")).to_be_visible()

    # The integration itself is refused, beside the field, and nothing is saved.
    page.get_by_label("Fallback 1").select_option(label=str(primary))
    page.get_by_role("button", name="Save fallbacks").click()
    expect(page.locator("#field-fallback_1")).to_contain_text("cannot be its own fallback")
    assert fallbacks.chain_of(primary) == []

    page.get_by_label("Fallback 1").select_option(label=str(backup))
    page.get_by_role("button", name="Save fallbacks").click()
    page.wait_for_url(re.compile(rf"/integrations/{primary.pk}/$"))

    rows = page.locator("#fallbacks tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Primary")
    expect(rows.nth(0)).to_contain_text(str(primary))
    expect(rows.nth(1)).to_contain_text("Fallback 1")
    expect(rows.nth(1)).to_contain_text(str(backup))
    expect(rows.nth(1)).to_contain_text("Ready")
    expect(rows.nth(1).get_by_role("link", name=str(backup))).to_have_attribute(
        "href", f"/integrations/{backup.pk}/"
    )
    assert fallbacks.chain_of(primary) == [backup]
    event = AuditEvent.objects.filter(object_id=str(primary.pk), action="update").latest("id")
    assert event.actor_repr == "alice"
    assert event.changes["fallbacks"] == [[], [f"#{backup.pk} {backup}"]]

    # Change fallbacks starts from the saved chain.
    page.locator("#fallbacks").get_by_role("link", name="Change fallbacks").click()
    expect(page.get_by_label("Fallback 1")).to_have_value(str(backup.pk))
    assert page.csp_violations == []
