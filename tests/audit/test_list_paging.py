"""The audit list counts only as far as its pager links, and says "more than N" past that."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit import recorder
from audit.models import AuditEvent
from tests.integrations.fixtures import make_integration

A = AuditEvent.Action
URL = "/admin/audit/auditevent/"
PER_PAGE = 5

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(admin.site._registry[AuditEvent], "list_per_page", PER_PAGE)


def _updates(integration, n):
    for i in range(n):
        recorder.record(A.UPDATE, integration, {"name": [f"n{i}", f"n{i + 1}"]})


def _page(client, **params):
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(URL, params)
    assert page.status_code == 200, page.status_code
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    return page, counts


def test_it_counts_one_row_past_the_last_linked_page(alice_client, small_pages):
    _updates(make_integration(), 40)
    page, counts = _page(alice_client, action__exact="update")
    # Page 1 links pages 1 to 4: 20 rows, and one more to know that the list goes on.
    assert len(counts) == 1 and "LIMIT 21" in counts[0], counts
    text = page.text
    assert "More than 20 audit events" in text
    assert "?action__exact=update&amp;p=4" in text
    assert "?action__exact=update&amp;p=5" not in text  # no last page: it is not known
    assert "…" in text
    assert "Select all audit events that match (more than 20)" in text
    assert "All audit events that match selected (more than 20)" in text


def test_near_the_end_the_count_is_exact_and_the_last_page_linked(alice_client, small_pages):
    _updates(make_integration(), 40)
    total = AuditEvent.objects.filter(action=A.UPDATE).count()
    last = -(-total // PER_PAGE)
    page, counts = _page(alice_client, action__exact="update", p=last - 2)
    assert f"LIMIT {(last + 1) * PER_PAGE + 1}" in counts[0], counts
    assert f"{total} audit events" in page.text and "More than" not in page.text
    assert f"?action__exact=update&amp;p={last}" in page.text
    assert len(page.context["cl"].result_list) == PER_PAGE


def test_a_deep_page_is_reached_with_the_pages_around_it(alice_client, small_pages):
    # Page 1 counted 21 rows; page 6 counts as far as its own pager reaches (page 9).
    _updates(make_integration(), 60)
    page, counts = _page(alice_client, action__exact="update", p=6)
    assert "LIMIT 46" in counts[0], counts
    assert len(page.context["cl"].result_list) == PER_PAGE
    assert "More than 45 audit events" in page.text
    for linked in (1, 2, 3, 9):
        assert f"?action__exact=update&amp;p={linked}" in page.text, linked
    assert "p=10" not in page.text


def test_a_filter_with_few_events_gives_their_exact_number(alice_client, small_pages):
    integration = make_integration()
    _updates(integration, 40)
    recorder.record(A.ROLLBACK, integration, {})
    page, _ = _page(alice_client, action__exact="rollback")
    assert "1 audit event<" in page.text.replace("audit event</span>", "audit event<")
    assert "More than" not in page.text


def test_a_search_says_more_than_rather_than_a_number(alice_client, small_pages):
    integration = make_integration()
    _updates(integration, 40)
    page, _ = _page(alice_client, q=integration.name)
    assert "More than 20 results" in page.text
