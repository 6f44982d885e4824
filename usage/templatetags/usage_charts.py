"""{% usage_last_day integration=… %} / {% usage_last_day prompt=… %}: a small chart of the
last 24 hours' calls and errors, with a link to the full usage page (one query)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from usage import charts, prices, stats

register = template.Library()


@register.simple_tag
def usage_last_day(integration: Any = None, prompt: Any = None) -> str:
    if integration is not None:
        where, url = (
            {"integration_id": integration.pk},
            reverse("usage:integration", args=[integration.pk]),
        )
    elif prompt is not None:
        where, url = {"prompt_id": prompt.pk}, reverse("usage:prompt", args=[prompt.pk])
    else:
        return ""
    w = stats.window("24h", where)
    points = stats.series(w)
    total = stats.total(points)
    chart = charts.chart(
        "Calls in the last 24 hours",
        [w.label(b) for b in w.buckets],
        [
            charts.Series("Calls", [p.calls for p in points], "s1"),
            charts.Series("Errors", [p.errors for p in points], "s3"),
        ],
        "calls",
        charts.count,
        width=420,
        height=120,
    )
    return format_html(
        '<section class="card usage-mini" id="usage-last-day"><h2>Usage</h2>{}'
        '<p class="muted">{} calls, {} errors, {} / {} tokens, ${} · <a href="{}">Usage</a></p>'
        "</section>",
        chart,
        total.calls,
        total.errors,
        total.input_tokens,
        total.output_tokens,
        f"{total.cost_usd:.4f}",
        url,
    )


@register.simple_tag
def usage_cost(subject: Any, input_tokens: Any, output_tokens: Any) -> str:
    """' · $0.000123': the estimated cost of these tokens at the prices of the subject's
    integration (an integration, a test, or an id); empty when no price is known."""
    if input_tokens is None and output_tokens is None:
        return ""
    from integrations.models import BedrockModel

    if isinstance(subject, int):
        integration_id: int | None = subject
    elif isinstance(subject, BedrockModel):
        integration_id = subject.pk
    else:  # a test: its integration, if it has one
        integration_id = getattr(subject, "integration_id", None)
    price = prices.of_integration(integration_id) if integration_id else None
    if price is None and getattr(subject, "model_id", None):
        price = prices.list_price(subject.model_id)  # a test of values not saved yet
    nano = price.cost_nano(input_tokens, output_tokens) if price else None
    return "" if nano is None else f" · ${nano / 1e9:.6f}"
