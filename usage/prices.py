"""Prices per 1,000 tokens: the integration's own, or the list price of its model.

LIST_PRICES are Amazon Bedrock's published on-demand prices (US East, N. Virginia) as of
LIST_PRICES_AS_OF. They change: check them against https://aws.amazon.com/bedrock/pricing/
and set the integration's own prices where they differ (a discount, another region, a
provisioned model). A model not in the table costs nothing until its prices are set.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from usage.models import NANO

LIST_PRICES_AS_OF = "2025-06-01"

# Model id fragment -> (USD per 1K input tokens, USD per 1K output tokens). The longest
# fragment found in the integration's model id or ARN wins.
LIST_PRICES: dict[str, tuple[str, str]] = {
    "anthropic.claude-3-haiku": ("0.00025", "0.00125"),
    "anthropic.claude-3-5-haiku": ("0.0008", "0.004"),
    "anthropic.claude-3-sonnet": ("0.003", "0.015"),
    "anthropic.claude-3-5-sonnet": ("0.003", "0.015"),
    "anthropic.claude-3-7-sonnet": ("0.003", "0.015"),
    "anthropic.claude-sonnet-4": ("0.003", "0.015"),
    "anthropic.claude-3-opus": ("0.015", "0.075"),
    "anthropic.claude-opus-4": ("0.015", "0.075"),
    "amazon.nova-micro": ("0.000035", "0.00014"),
    "amazon.nova-lite": ("0.00006", "0.00024"),
    "amazon.nova-pro": ("0.0008", "0.0032"),
    "amazon.titan-text-lite": ("0.00015", "0.0002"),
    "amazon.titan-text-express": ("0.0002", "0.0006"),
    "meta.llama3-8b-instruct": ("0.0003", "0.0006"),
    "meta.llama3-70b-instruct": ("0.00265", "0.0035"),
    "mistral.mistral-7b-instruct": ("0.00015", "0.0002"),
    "mistral.mixtral-8x7b-instruct": ("0.00045", "0.0007"),
    "mistral.mistral-large-2402": ("0.004", "0.012"),
    "cohere.command-r-v1": ("0.0005", "0.0015"),
    "cohere.command-r-plus": ("0.003", "0.015"),
}


@dataclass(frozen=True)
class Price:
    input_per_1k: Decimal
    output_per_1k: Decimal
    listed: bool  # from LIST_PRICES, not set on the integration

    def cost_nano(self, input_tokens: int | None, output_tokens: int | None) -> int | None:
        if input_tokens is None and output_tokens is None:
            return None
        usd = (
            self.input_per_1k * (input_tokens or 0) + self.output_per_1k * (output_tokens or 0)
        ) / 1000
        return int((usd * NANO).to_integral_value())


def list_price(model_id: str) -> Price | None:
    found = [fragment for fragment in LIST_PRICES if fragment in model_id]
    if not found:
        return None
    inp, out = LIST_PRICES[max(found, key=len)]
    return Price(Decimal(inp), Decimal(out), listed=True)


def to_store(
    model_id: str, current: Decimal | None, submitted: Decimal | None, output: bool
) -> Decimal | None:
    """What to store for a price submitted on the integration's form: an integration that
    follows the list price (None) keeps following it when the form sends that list price back
    (the field is prefilled with it), so a later table follows too."""
    listed = list_price(model_id)
    if current is None and listed is not None and submitted is not None:
        follows = submitted == (listed.output_per_1k if output else listed.input_per_1k)
        return None if follows else submitted
    return submitted


def effective(
    model_id: str, input_per_1k: Decimal | None, output_per_1k: Decimal | None
) -> Price | None:
    """The integration's prices where set, the list price for the rest; None: unknown."""
    listed = list_price(model_id)
    if input_per_1k is None and output_per_1k is None:
        return listed
    return Price(
        input_per_1k
        if input_per_1k is not None
        else (listed.input_per_1k if listed else Decimal(0)),
        output_per_1k
        if output_per_1k is not None
        else (listed.output_per_1k if listed else Decimal(0)),
        listed=False,
    )


# Per process: integration id -> (price, expires). A price change applies in every process
# within USAGE_PRICE_CACHE_SECONDS (and at once in the process that made it).
_lock = threading.Lock()
_cache: dict[int, tuple[Price | None, float]] = {}


def forget() -> None:
    with _lock:
        _cache.clear()


def of_integration(integration_id: int | None) -> Price | None:
    if not integration_id:
        return None
    hit = _cache.get(integration_id)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    from integrations.models import BedrockModel

    row = (
        BedrockModel.objects.filter(pk=integration_id)
        .values_list("model_id", "price_input_per_1k", "price_output_per_1k")
        .first()
    )
    price = effective(*row) if row else None
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[integration_id] = (price, now + settings.USAGE_PRICE_CACHE_SECONDS)
    return price
