"""The Usage page: charts and tables over a range, totals that match the records."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bedrock import observe
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import make_prompt
from tests.usage.helpers import report
from usage import prices, recording
from usage.models import CallRecord, HourlyRollup

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_caches():
    prices.forget()
    yield
    prices.forget()


def _calls(prompt, n, token_id=None, errors_every=4):
    for i in range(n):
        report(
            integration_id=prompt.integration_id,
            prompt_id=prompt.pk,
            version_id=prompt.published_version_id,
            feature=prompt.feature.name,
            token_id=token_id,
            ok=bool(i % errors_every),
            error_code="" if i % errors_every else "ThrottlingException",
            total_ms=100 + i,
            input_tokens=10,
            output_tokens=20,
        )


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200, r.content[:500]
    return len(ctx.captured_queries), r


@pytest.mark.parametrize("range_key", ["1h", "24h", "7d", "30d"])
def test_it_shows_four_charts_and_totals_that_match_the_records(alice_client, range_key):
    prompt = make_prompt()
    _calls(prompt, 12)
    r = alice_client.get(f"/usage/?range={range_key}")
    assert r.status_code == 200
    html = r.content.decode()
    assert html.count("<svg") == 4
    for title in (
        "Calls and errors",
        "Latency, p50 and p95",
        "Input and output tokens",
        "Estimated cost",
    ):
        assert f'aria-label="{title}"' in html
    assert f'<strong id="total-calls">{CallRecord.objects.count()}</strong>' in html
    assert (
        f'<strong id="total-errors">{CallRecord.objects.filter(ok=False).count()}</strong>' in html
    )
    assert '<strong id="total-tokens">120 / 240</strong>' in html
    # Hover values: the bucket of now holds all the calls.
    assert "Calls 12, Errors 3 (calls)" in html
    assert prompt.name in html and prompt.integration.name in html and "Co-pilot" in html


def test_the_query_count_does_not_grow_with_the_calls(alice_client):
    # Names are looked up once per kind (integrations, prompts, versions, tokens) when any
    # row names one: every kind is named from the start.
    prompt = make_prompt()
    _calls(prompt, 2, token_id=4)
    few, _ = _queries(alice_client, "/usage/")
    other = make_prompt(name="Other", integration=make_integration(name="Sonnet"), feature="Search")
    _calls(other, 30, token_id=5)
    _calls(prompt, 30, token_id=6)
    many, _ = _queries(alice_client, "/usage/")
    assert few == many
    for url in ("/usage/?range=1h", f"/usage/prompts/{prompt.pk}/", "/usage/calls/"):
        first, _ = _queries(alice_client, url)
        _calls(prompt, 5, token_id=7)
        assert _queries(alice_client, url)[0] == first, url


def test_older_calls_fall_out_of_the_range(alice_client, monkeypatch):
    prompt = make_prompt()
    long_ago = timezone.now() - timedelta(days=3)
    monkeypatch.setattr(recording.timezone, "now", lambda: long_ago)
    _calls(prompt, 3)
    monkeypatch.undo()
    _calls(prompt, 2)
    assert (
        '<strong id="total-calls">2</strong>'
        in alice_client.get("/usage/?range=24h").content.decode()
    )
    assert (
        '<strong id="total-calls">5</strong>'
        in alice_client.get("/usage/?range=7d").content.decode()
    )


def test_each_row_links_to_its_own_page(alice_client):
    prompt = make_prompt()
    _calls(prompt, 3, token_id=None)
    html = alice_client.get("/usage/").content.decode()
    for url in (
        f"/usage/integrations/{prompt.integration_id}/?range=24h",
        f"/usage/prompts/{prompt.pk}/?range=24h",
        "/usage/features/Co-pilot/?range=24h",
    ):
        assert f'href="{url}"' in html
        assert alice_client.get(url).status_code == 200


def test_a_page_of_one_integration_counts_only_its_calls(alice_client):
    a = make_prompt()
    b = make_prompt(name="Other", integration=make_integration(name="Sonnet"))
    _calls(a, 3)
    _calls(b, 5)
    html = alice_client.get(f"/usage/integrations/{b.integration_id}/").content.decode()
    assert '<strong id="total-calls">5</strong>' in html


def test_connection_tests_count_without_a_prompt(alice_client):
    integration = make_integration()
    report(observe.CONNECTION_TEST, integration_id=integration.pk, user_id=None, total_ms=50)
    html = alice_client.get("/usage/").content.decode()
    assert "No prompt (connection tests)" in html
    assert HourlyRollup.objects.get().kind == "connection_test"


def test_a_user_without_a_role_is_refused(client, charlie):
    client.force_login(charlie)
    assert client.get("/usage/").status_code == 403
    assert client.get("/usage/calls/").status_code == 403


def test_the_nav_links_to_usage(alice_client):
    assert 'href="/usage/">Usage</a>' in alice_client.get("/usage/").content.decode()


def test_an_unknown_range_shows_the_last_24_hours(alice_client):
    r = alice_client.get("/usage/?range=forever")
    assert r.status_code == 200
    assert 'aria-current="page">Last 24 hours' in r.content.decode()


def test_integration_and_prompt_pages_show_their_last_24_hours(alice_client):
    prompt = make_prompt()
    _calls(prompt, 4)
    for url, usage_url in (
        (
            f"/integrations/{prompt.integration_id}/",
            f"/usage/integrations/{prompt.integration_id}/",
        ),
        (f"/prompts/{prompt.pk}/", f"/usage/prompts/{prompt.pk}/"),
    ):
        html = alice_client.get(url).content.decode()
        assert 'id="usage-last-day"' in html, url
        assert 'aria-label="Calls in the last 24 hours"' in html
        assert "4 calls, 1 errors, 40 / 80 tokens" in html
        assert f'href="{usage_url}"' in html
