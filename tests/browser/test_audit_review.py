"""A security reviewer's path through the audit trail in Django admin, in Debian's Chromium."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from audit import recorder
from audit.models import AuditEvent
from tests.audit.test_audit import save_with_secret
from tests.audit.test_review import rename
from tests.browser.conftest import sign_in
from tests.integrations.fixtures import make_integration

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
A = AuditEvent.Action


def test_one_integrations_changes_in_a_date_range(page, alice):
    integration = save_with_secret()
    # An older change of the same integration, outside the range the reviewer picks.
    old = recorder.record(A.UPDATE, integration, {"name": ["Haiku 0", "Haiku"]}, user=alice)
    AuditEvent.objects.filter(pk=old.pk).update(created=old.created - dt.timedelta(days=40))
    other = make_integration(provider="Other Bedrock", name="Elsewhere")
    recorder.record(A.UPDATE, other, {"name": ["Haiku", "Elsewhere"]}, user=alice)
    rename(integration, "Sonnet")
    changed = AuditEvent.objects.filter(
        object_type="integrations.bedrockmodel", object_id=str(integration.pk), action=A.UPDATE
    ).latest("id")
    today = dt.date.today()

    sign_in(page, "alice", "alice-password-long")
    page.goto(f"/integrations/{integration.pk}/")
    page.get_by_role("link", name="History").click()
    expect(page.locator("#changelist-filter")).to_contain_text("Integration #")
    page.get_by_label("From", exact=True).fill((today - dt.timedelta(days=7)).isoformat())
    page.get_by_label("To", exact=True).fill(today.isoformat())
    page.get_by_role("button", name="Apply dates").click()
    page.locator("#changelist-filter").get_by_role("link", name="Update", exact=True).click()
    expect(page).to_have_url(re.compile(f"object_id={integration.pk}"))
    for part in ("action__exact=update", "from=", "to=", "object_type=integrations.bedrockmodel"):
        assert part in page.url, (part, page.url)
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)  # not the older change, not the other integration's
    expect(rows.first).to_contain_text("Integration")
    expect(rows.first).to_contain_text("Name, Headers")  # in the order the model declares them

    rows.first.get_by_role("link", name=str(changed.pk), exact=True).click()
    table = page.locator("table.audit-changes")
    name_row = table.locator("tr", has=page.locator("th", has_text="Name"))
    expect(name_row.locator("td").nth(0)).to_have_text("Haiku")
    expect(name_row.locator("td").nth(1)).to_have_text("Sonnet")
    expect(table).to_contain_text("X-Api-Key: (secret)")
    expect(page.get_by_text("another-secret-456")).to_have_count(0)

    page.get_by_role("link", name="Open in the console").click()
    expect(page).to_have_url(re.compile(f"/integrations/{integration.pk}/$"))
    expect(page.locator("main")).to_contain_text("Sonnet")
    assert page.csp_violations == []
