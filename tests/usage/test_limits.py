"""Limits per API token: requests and tokens per minute and a monthly budget, answered with 429."""

import json
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from audit.models import AuditEvent
from prompts_library.models import ApiToken
from tests.prompts.fixtures import make_prompt
from tests.usage.helpers import report
from usage import journal, limits
from usage.models import CallRecord

# Transactional: the Invoke API records its calls on a helper thread, with its own connection.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["redis", "database"])
def counters(request, settings):
    """Limits counted in Redis, and without it (the embedded default) in the database."""
    if request.param == "redis":
        if not settings.REDIS_URL:
            pytest.skip("needs Redis")
    else:
        settings.REDIS_URL = ""
    return request.param


@pytest.fixture
def prompt(alice):
    return make_prompt(alice)


def _token(**limit_values):
    row, plaintext = ApiToken.issue("backend", all_prompts=True)
    limits.do_set_limits(
        row,
        requests_per_minute=limit_values.get("rpm"),
        tokens_per_minute=limit_values.get("tpm"),
        monthly_budget_usd=limit_values.get("budget"),
    )
    return row, plaintext


def invoke(client, prompt, token):
    return client.post(
        f"/api/v1/prompts/{prompt.slug}/invoke",
        json.dumps({"question": "q", "max_tokens": 5}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def _same_minute():
    # A minute that ends mid-test would start the count again: wait for a fresh one.
    import time

    if timezone.now().second > 50:
        time.sleep(61 - timezone.now().second)


def test_r_requests_per_minute_pass_and_the_next_is_refused(client, sandbox, prompt, counters):
    _same_minute()
    _, token = _token(rpm=3)
    answers = [invoke(client, prompt, token) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a["X-RateLimit-Limit"] for a in answers} == {"3"}
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert sandbox.state.stats()["invoke_calls"] == 3


def test_a_token_without_limits_has_no_limit_headers(client, sandbox, prompt):
    _, token = ApiToken.issue("free", all_prompts=True)
    answer = invoke(client, prompt, token)
    assert answer.status_code == 200
    assert "X-RateLimit-Limit" not in answer


def test_tokens_per_minute_refuse_once_used(client, sandbox, prompt, counters):
    _same_minute()
    row, token = _token(tpm=100)
    assert invoke(client, prompt, token).status_code == 200
    # The invocation core reports the call's tokens; these are as a call that used 100.
    report(integration_id=prompt.integration_id, token_id=row.pk, input_tokens=60, output_tokens=40)
    answer = invoke(client, prompt, token)
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "rate_limited"
    assert "tokens per minute" in answer.json()["error"]["message"]


def test_a_budget_stops_calls_once_spent(client, sandbox, prompt, counters):
    row, token = _token(budget=Decimal("1.00"))
    assert invoke(client, prompt, token).status_code == 200
    # $0.00125 per 1K output tokens (Claude 3 Haiku): 800K tokens cost $1.00.
    report(integration_id=prompt.integration_id, token_id=row.pk, output_tokens=400_000)
    assert invoke(client, prompt, token).status_code == 200  # $0.50 spent
    report(integration_id=prompt.integration_id, token_id=row.pk, output_tokens=400_000)
    answer = invoke(client, prompt, token)
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "budget_exceeded"
    assert int(answer["Retry-After"]) > 0
    # What the token's page shows as spent is what its records cost (the reported calls, and
    # the API's own calls once the invocation core reports them).
    journal.settle()
    spent = CallRecord.objects.filter(token_id=row.pk).aggregate(s=Sum("cost_nano"))["s"]
    assert limits.current_use(row.pk).spent_nano == spent >= 1_000_000_000


def test_limit_changes_apply_at_once_and_are_audited(client, sandbox, prompt, alice):
    _same_minute()
    row, token = _token(rpm=1)
    assert invoke(client, prompt, token).status_code == 200
    assert invoke(client, prompt, token).status_code == 429
    limits.do_set_limits(
        row, requests_per_minute=10, tokens_per_minute=None, monthly_budget_usd=None, user=alice
    )
    assert invoke(client, prompt, token).status_code == 200
    event = (
        AuditEvent.objects.filter(object_type="prompts_library.apitoken", object_id=str(row.pk))
        .order_by("pk")
        .last()
    )
    assert event.action == "update"
    assert event.changes == {"requests_per_minute": [1, 10]}
    assert event.actor == alice
    assert not limits.do_set_limits(
        row, requests_per_minute=10, tokens_per_minute=None, monthly_budget_usd=None
    )


def test_the_tokens_usage_page_shows_use_against_limits_and_links_to_its_form(
    alice_client, sandbox, prompt
):
    _same_minute()
    row, token = _token(rpm=5)
    invoke(alice_client, prompt, token)
    page = alice_client.get(f"/usage/tokens/{row.pk}/").content.decode()
    assert '<td class="num" id="use-requests">1</td><td class="num">5</td>' in page
    # One editing place: the token's own form.
    assert f'href="/prompts/tokens/{row.pk}/">Edit limits</a>' in page
    assert 'name="requests_per_minute"' not in page
    assert alice_client.post(f"/usage/tokens/{row.pk}/", {}).status_code == 405


def test_a_viewer_sees_the_limits_without_the_link_to_edit_them(client, alice, django_user_model):
    from tests.conftest import grant

    viewer = grant(
        django_user_model.objects.create_user("vera", "v@example.org", "vera-password-long"),
        "Viewer",
    )
    client.force_login(viewer)
    row, _ = _token(rpm=5)
    assert client.get(f"/usage/tokens/{row.pk}/").status_code == 200
    page = client.get(f"/usage/tokens/{row.pk}/").content.decode()
    assert "Edit limits" not in page
