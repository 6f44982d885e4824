from __future__ import annotations

from decimal import Decimal

from django import forms


def _price(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, max_digits=12, decimal_places=6, min_value=Decimal(0), required=False
    )


class PricesForm(forms.Form):
    price_input_per_1k = _price("Price per 1K input tokens (USD)")
    price_output_per_1k = _price("Price per 1K output tokens (USD)")


class LimitsForm(forms.Form):
    requests_per_minute = forms.IntegerField(
        label="Requests per minute", min_value=1, max_value=10_000_000, required=False
    )
    tokens_per_minute = forms.IntegerField(
        label="Tokens per minute", min_value=1, max_value=10_000_000_000, required=False
    )
    monthly_budget_usd = forms.DecimalField(
        label="Monthly budget (USD)",
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        required=False,
        help_text="Leave a field empty for no limit.",
    )


class BodyKeepingForm(forms.Form):
    keep = forms.BooleanField(label="Keep request and response bodies", required=False)
    days = forms.IntegerField(label="Days", min_value=1, max_value=365, initial=7)
