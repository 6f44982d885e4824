"""The API token's own form: its limits, with its use against them."""

from decimal import Decimal

import pytest

from audit.models import AuditEvent
from prompts_library.models import ApiToken
from tests.conftest import grant
from usage import limits
from usage.models import TokenLimits

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(alice):
    row, _ = ApiToken.issue("backend", alice, all_prompts=True)
    limits.do_set_limits(
        row, requests_per_minute=5, tokens_per_minute=None, monthly_budget_usd=None, user=alice
    )
    return row


def url(token):
    return f"/prompts/tokens/{token.pk}/"


def test_it_shows_the_limits_and_the_use_against_them(alice_client, token):
    page = alice_client.get(url(token)).text
    for label in ("Requests per minute", "Tokens per minute", "Monthly budget (USD)"):
        assert f">{label}</label>" in page
    assert 'name="requests_per_minute" value="5"' in page
    assert '<td class="num" id="use-requests">0</td><td class="num">5</td>' in page
    assert "/prompts/tokens/" in page and f"/usage/tokens/{token.pk}/" in page


def test_it_saves_limits_audited_as_a_limit_change(alice_client, alice, token):
    r = alice_client.post(
        url(token),
        {"requests_per_minute": "7", "tokens_per_minute": "", "monthly_budget_usd": "12.5"},
    )
    assert r.status_code == 302 and r["Location"] == url(token)
    saved = TokenLimits.objects.get(token=token)
    assert (saved.requests_per_minute, saved.tokens_per_minute, saved.monthly_budget_usd) == (
        7,
        None,
        Decimal("12.50"),
    )
    event = AuditEvent.objects.filter(object_type="prompts_library.apitoken").order_by("pk").last()
    assert event.action == "update" and event.actor == alice
    assert event.changes == {"requests_per_minute": [5, 7], "monthly_budget_usd": [None, "12.50"]}
    assert "Limits saved." in alice_client.get(url(token)).text


def test_blank_removes_a_limit(alice_client, token):
    alice_client.post(url(token), {"requests_per_minute": ""})
    assert TokenLimits.objects.get(token=token).requests_per_minute is None


def test_bad_limits_are_refused_beside_their_fields(alice_client, token):
    r = alice_client.post(
        url(token),
        {"requests_per_minute": "-1", "tokens_per_minute": "x", "monthly_budget_usd": "1.234"},
    )
    assert r.status_code == 400
    assert r.text.count('class="error"') == 3
    assert TokenLimits.objects.get(token=token).requests_per_minute == 5


def test_only_token_managers_open_it(client, django_user_model, token):
    viewer = grant(
        django_user_model.objects.create_user("vera", "v@example.org", "vera-password-long"),
        "Viewer",
    )
    client.force_login(viewer)
    assert client.get(url(token)).status_code == 403
    assert client.post(url(token), {"requests_per_minute": "50"}).status_code == 403
    assert TokenLimits.objects.get(token=token).requests_per_minute == 5


def test_an_unknown_token_is_404(alice_client):
    assert alice_client.get("/prompts/tokens/999999/").status_code == 404


def test_a_token_without_limits_shows_none_for_each(alice_client, alice):
    row, _ = ApiToken.issue("open", alice, all_prompts=True)
    page = alice_client.get(url(row)).text
    assert page.count('<td class="num">none</td>') == 3
