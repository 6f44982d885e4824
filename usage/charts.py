"""Charts as inline SVG, drawn on the server: no JavaScript, nothing the CSP forbids.

Each chart has a title, a labelled y axis with its unit, time labels under the x axis, and a
hover value per time bucket (an SVG <title>, which browsers show as a tooltip). Colours come
from classes in static/css/usage.css (presentation attributes only: no style attributes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 12, 28


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str  # one of the usage.css series classes: s1 … s4


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10 if value >= 1 else 1.0
    if value < 1:
        magnitude = 1.0
        while magnitude / 10 >= value:
            magnitude /= 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _text(x: float, y: float, text: str, css: str, anchor: str = "middle") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{css}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str,
    fmt: Callable[[float], str],
    kind: str = "bars",
    width: int = WIDTH,
    height: int = HEIGHT,
    axes: bool = True,
) -> SafeString:
    """Bars (side by side per bucket) or lines over time buckets; `fmt` writes one value."""
    left, right, top, bottom = (LEFT, RIGHT, TOP, BOTTOM) if axes else (2, 2, 2, 2)
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(labels))
    peak = max((v for s in series for v in s.values if v is not None), default=0.0)
    top_value = _nice_max(float(peak))
    step = plot_w / n

    def y_of(value: float) -> float:
        return top + plot_h - (value / top_value) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="chart" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    if axes:
        for fraction in (0, 0.5, 1):
            y = y_of(top_value * fraction)
            parts.append(
                f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            )
            parts.append(_text(left - 4, y + 4, fmt(top_value * fraction), "tick", "end"))
        parts.append(_text(4, top + 8, unit, "unit", "start"))
        for index in sorted({0, n // 2, n - 1}):
            if index < len(labels):
                parts.append(_text(left + step * (index + 0.5), height - 8, labels[index], "tick"))
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
            'class="axis"/>'
        )
    if kind == "bars":
        bar_w = max(1.0, step * 0.8 / max(1, len(series)))
        for k, s in enumerate(series):
            for i, value in enumerate(s.values):
                if not value:
                    continue
                x = left + step * i + step * 0.1 + bar_w * k
                y = y_of(value)
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                    f'height="{top + plot_h - y:.1f}" class="{s.css}"/>'
                )
    else:
        for s in series:
            points = [
                f"{left + step * (i + 0.5):.1f},{y_of(v):.1f}"
                for i, v in enumerate(s.values)
                if v is not None
            ]
            if points:
                parts.append(f'<polyline points="{" ".join(points)}" class="line {s.css}"/>')
            for i, v in enumerate(s.values):
                if v is not None:
                    cx = left + step * (i + 0.5)
                    parts.append(
                        f'<circle cx="{cx:.1f}" cy="{y_of(v):.1f}" r="2" class="{s.css}"/>'
                    )
    # One hover target per bucket, naming every series' value there.
    for i, label in enumerate(labels):
        values = ", ".join(f"{s.name} {_shown(s.values[i], fmt)}" for s in series)
        parts.append(
            f'<rect x="{left + step * i:.1f}" y="{top}" width="{step:.1f}" height="{plot_h}" '
            f'class="hit"><title>{escape(label)}: {escape(values)} ({escape(unit)})</title></rect>'
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key {s.css}">{escape(s.name)}</span>' for s in series if len(series) > 1
    )
    figure = f'<figure class="usage-chart"><figcaption>{escape(title)}'
    if legend:
        figure += f' <span class="legend">{legend}</span>'
    return mark_safe(figure + "</figcaption>" + "".join(parts) + "</figure>")  # noqa: S308  # nosec B308 B703: every value is escaped or a formatted number


def _shown(value: float | None, fmt: Callable[[float], str]) -> str:
    return "none" if value is None else fmt(value)


def count(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def milliseconds(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def dollars(value: float) -> str:
    if value == 0:
        return "$0"
    if value < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"
