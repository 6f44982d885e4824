"""{% usage_last_day integration=… %} / {% usage_last_day prompt=… %}: a small chart of the
last 24 hours' calls and errors, with a link to the full usage page (one query)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from usage import charts, stats

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
