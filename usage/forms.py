from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

# Sane maximums: the columns hold them (PostgreSQL's integer, 12 digits with 2 decimals), and
# no real limit comes near.
MAX_REQUESTS_PER_MINUTE = 10_000_000
MAX_TOKENS_PER_MINUTE = 2_000_000_000
MAX_MONTHLY_BUDGET_USD = Decimal("10000000")


class LimitsForm(forms.Form):
    """An API token's limits, on the token's own form (create and edit): empty is no limit."""

    requests_per_minute = forms.IntegerField(
        label="Requests per minute",
        min_value=0,
        max_value=MAX_REQUESTS_PER_MINUTE,
        required=False,
    )
    tokens_per_minute = forms.IntegerField(
        label="Tokens per minute", min_value=0, max_value=MAX_TOKENS_PER_MINUTE, required=False
    )
    monthly_budget_usd = forms.DecimalField(
        label="Monthly budget (USD)",
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=MAX_MONTHLY_BUDGET_USD,
        required=False,
        help_text="Leave a limit empty for none; 0 stops the token.",
    )

    def limits(self) -> dict[str, Any]:
        """The cleaned limits, as usage.limits.do_set_limits takes them."""
        return {name: self.cleaned_data.get(name) for name in LimitsForm.base_fields}


class BodyKeepingForm(forms.Form):
    keep = forms.BooleanField(label="Keep request and response bodies", required=False)
    days = forms.IntegerField(label="Days", min_value=1, max_value=365, initial=7)
