"""API tokens in the console: shown once, stored as a hash."""

import hashlib
from decimal import Decimal

import pytest

from audit.models import AuditEvent
from prompts_library.models import ApiToken
from tests.prompts.fixtures import make_prompt
from usage.models import TokenLimits


@pytest.mark.django_db
class TestTokens:
    def test_a_new_token_is_shown_once_and_only_its_hash_is_kept(self, alice_client, alice):
        prompt = make_prompt(alice)
        r = alice_client.post("/prompts/tokens/", {"name": "Co-pilot", "prompts": [prompt.pk]})
        token = ApiToken.objects.get()
        shown = r.text.split('id="new-token">')[1].split("<")[0]
        assert shown.startswith("bcp_") and shown.startswith(token.prefix)
        assert token.token_hash == hashlib.sha256(shown.encode()).hexdigest()
        assert list(token.prompts.all()) == [prompt]
        assert token.created_by == alice
        assert shown not in alice_client.get("/prompts/tokens/").text


@pytest.mark.django_db
class TestLimitsOnTheTokensForm:
    def test_the_create_form_has_the_three_limits(self, alice_client):
        page = alice_client.get("/prompts/tokens/").text
        for label in ("Requests per minute", "Tokens per minute", "Monthly budget (USD)"):
            assert f">{label}</label>" in page

    def test_a_token_is_created_with_its_limits_in_one_audited_step(self, alice_client, alice):
        r = alice_client.post(
            "/prompts/tokens/",
            {
                "name": "Co-pilot",
                "all_prompts": "on",
                "requests_per_minute": "60",
                "tokens_per_minute": "",
                "monthly_budget_usd": "25.5",
            },
        )
        assert r.status_code == 200
        token = ApiToken.objects.get()
        saved = TokenLimits.objects.get(token=token)
        assert (saved.requests_per_minute, saved.tokens_per_minute) == (60, None)
        assert saved.monthly_budget_usd == Decimal("25.50")
        events = AuditEvent.objects.filter(
            object_type="prompts_library.apitoken", object_id=str(token.pk)
        ).order_by("pk")
        assert [e.action for e in events] == ["create", "update"]
        assert events[1].changes == {
            "requests_per_minute": [None, 60],
            "monthly_budget_usd": [None, "25.50"],
        }
        assert events[1].actor == alice

    def test_without_limits_no_limits_row_is_made(self, alice_client):
        alice_client.post("/prompts/tokens/", {"name": "Open", "all_prompts": "on"})
        assert ApiToken.objects.count() == 1
        assert not TokenLimits.objects.exists()

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("requests_per_minute", "-1"),
            ("requests_per_minute", "10000001"),
            ("tokens_per_minute", "2000000001"),
            ("tokens_per_minute", "x"),
            ("monthly_budget_usd", "1.234"),
            ("monthly_budget_usd", "-5"),
            ("monthly_budget_usd", "10000000.01"),
        ],
    )
    def test_a_bad_limit_is_refused_beside_its_field_and_nothing_is_created(
        self, alice_client, field, value
    ):
        r = alice_client.post(
            "/prompts/tokens/", {"name": "Co-pilot", "all_prompts": "on", field: value}
        )
        assert r.status_code == 400
        box = r.text.split(f'id="field-{field}"')[1].split('<div class="field"')[0]
        assert 'class="error"' in box
        assert not ApiToken.objects.exists()

    def test_a_limit_of_zero_is_kept(self, alice_client):
        alice_client.post(
            "/prompts/tokens/", {"name": "Paused", "all_prompts": "on", "requests_per_minute": "0"}
        )
        assert TokenLimits.objects.get().requests_per_minute == 0
