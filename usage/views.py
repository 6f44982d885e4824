"""Usage pages: charts and tables for a time range and a slice, the calls, and /metrics."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts import roles
from config.params import parse_id
from integrations.models import BedrockModel
from prompts_library.models import ApiToken, Prompt, PromptVersion
from usage import charts, journal, limits, names, prices, services, stats
from usage.forms import BodyKeepingForm
from usage.models import BodyKeeping, CallRecord

VIEW_USAGE = roles.VIEW_USAGE


def _range(request: HttpRequest) -> str:
    key = request.GET.get("range", stats.DEFAULT_RANGE)
    return key if key in stats.RANGES else stats.DEFAULT_RANGE


def chart_set(w: stats.Window, points: list[stats.Sums]) -> list[Any]:
    labels = [w.label(b) for b in w.buckets]
    return [
        charts.chart(
            "Calls and errors",
            labels,
            [
                charts.Series("Calls", [p.calls for p in points], "s1"),
                charts.Series("Errors", [p.errors for p in points], "s3"),
            ],
            "calls",
            charts.count,
        ),
        charts.chart(
            "Latency, p50 and p95",
            labels,
            [
                charts.Series("p50", [p.p50 for p in points], "s1"),
                charts.Series("p95", [p.p95 for p in points], "s2"),
            ],
            "ms",
            charts.milliseconds,
            kind="lines",
        ),
        charts.chart(
            "Input and output tokens",
            labels,
            [
                charts.Series("Input", [p.input_tokens for p in points], "s1"),
                charts.Series("Output", [p.output_tokens for p in points], "s4"),
            ],
            "tokens",
            charts.count,
        ),
        charts.chart(
            "Estimated cost",
            labels,
            [charts.Series("Cost", [float(p.cost_usd) for p in points], "s2")],
            "USD",
            charts.dollars,
        ),
    ]


def _overview(
    request: HttpRequest, where: dict[str, Any], subject: Any = None, extra: dict | None = None
) -> HttpResponse:
    range_key = _range(request)
    w = stats.window(range_key, where)
    points = stats.series(w)
    tables = stats.breakdowns(w)
    labels = names.lookup(tables)
    context = {
        "range": w.range,
        "ranges": stats.RANGES.values(),
        "charts": chart_set(w, points),
        "total": stats.total(points),
        "tables": names.rows(tables, labels, range_key),
        "subject": subject,
        "calls_url": reverse("usage:calls") + "?" + urlencode(_calls_filter(where)),
        **(extra or {}),
    }
    return render(request, "usage/overview.html", context)


def _calls_filter(where: dict[str, Any]) -> dict[str, Any]:
    short = {"integration_id": "integration", "prompt_id": "prompt", "token_id": "token"}
    return {short[k]: v for k, v in where.items() if k in short}


@roles.require(VIEW_USAGE)
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    return _overview(request, {})


@roles.require(VIEW_USAGE)
@require_GET
def integration(request: HttpRequest, pk: int) -> HttpResponse:
    """An integration's usage and the prices its cost is estimated at (set on its form)."""
    obj = get_object_or_404(BedrockModel.objects.select_related("provider"), pk=pk)
    extra = {
        "integration_page": True,
        "listed": prices.list_price(obj.model_id),
        "list_prices_as_of": prices.LIST_PRICES_AS_OF,
        "price": prices.effective(obj.model_id, obj.price_input_per_1k, obj.price_output_per_1k),
    }
    return _overview(request, {"integration_id": obj.pk}, obj, extra)


@roles.require(VIEW_USAGE, post=(roles.CHANGE_PROMPT,))
def prompt(request: HttpRequest, pk: int) -> HttpResponse:
    obj = get_object_or_404(Prompt, pk=pk)
    keeping = BodyKeeping.objects.filter(prompt=obj).first()
    form = BodyKeepingForm(
        request.POST or None,
        initial={"keep": keeping is not None, "days": keeping.days if keeping else 7},
    )
    if request.method == "POST" and form.is_valid():
        services.do_keep_bodies(
            obj, form.cleaned_data["days"] if form.cleaned_data["keep"] else None
        )
        messages.success(request, "Saved.")
        return redirect(request.get_full_path())
    extra = {"bodies_form": form, "versions_url": reverse("usage:versions", args=[obj.pk])}
    return _overview(request, {"prompt_id": obj.pk}, obj, extra)


@roles.require(VIEW_USAGE)
@require_GET
def token(request: HttpRequest, pk: int) -> HttpResponse:
    """A token's usage and its use against its limits (set on the token's own form)."""
    obj = get_object_or_404(ApiToken, pk=pk)
    current = limits.TokenLimits.objects.filter(token=obj).first()
    extra = {"token_page": True, "limits": current, "use": limits.current_use(obj.pk)}
    return _overview(request, {"token_id": obj.pk}, obj, extra)


@roles.require(VIEW_USAGE)
@require_GET
def feature(request: HttpRequest, name: str) -> HttpResponse:
    return _overview(request, {"feature": name[:100]}, name)


@roles.require(VIEW_USAGE)
@require_GET
def versions(request: HttpRequest, pk: int) -> HttpResponse:
    """Version against version: latency, tokens, cost and error rate of each version's calls."""
    obj = get_object_or_404(Prompt, pk=pk)
    range_key = request.GET.get("range", "30d")
    w = stats.window(range_key if range_key in stats.RANGES else "30d", {"prompt_id": obj.pk})
    found = dict(stats.breakdown(w, "version_id", limit=500))
    numbers = dict(PromptVersion.objects.filter(prompt=obj).values_list("pk", "number"))
    rows = [
        {"number": numbers.get(vid), "sums": sums}
        for (vid,), sums in sorted(found.items(), key=lambda kv: -(numbers.get(kv[0][0]) or 0))
    ]
    context = {"prompt": obj, "rows": rows, "range": w.range, "ranges": stats.RANGES.values()}
    return render(request, "usage/versions.html", context)


# --- calls ----------------------------------------------------------------------------------

PAGE = 50


def _int(value: str | None) -> int | None:
    return parse_id(value)


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value[:40])
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


@roles.require(VIEW_USAGE)
@require_GET
def calls(request: HttpRequest) -> HttpResponse:
    q = request.GET
    journal.settle()  # the list holds every call that ended before
    qs = CallRecord.objects.order_by("-created", "-id")
    filters: dict[str, str] = {}
    if q.get("outcome") in ("ok", "error"):
        qs = qs.filter(ok=q["outcome"] == "ok")
        filters["outcome"] = q["outcome"]
    for param, column in (("integration", "integration_id"), ("prompt", "prompt_id")):
        value = _int(q.get(param))
        if value is not None:
            qs = qs.filter(**{column: value})
            filters[param] = str(value)
    token_id = _int(q.get("token"))
    if token_id is not None:
        qs = qs.filter(token_id=token_id)
        filters["token"] = str(token_id)
    if q.get("kind") in CallRecord.Kind.values:
        qs = qs.filter(kind=q["kind"])
        filters["kind"] = q["kind"]
    since, until = _when(q.get("since")), _when(q.get("until"))
    if since:
        qs = qs.filter(created__gte=since)
        filters["since"] = q["since"]
    if until:
        qs = qs.filter(created__lt=until)
        filters["until"] = q["until"]
    after = q.get("after", "")
    created_s, _, id_s = after.rpartition("_")
    after_created, after_id = _when(created_s), _int(id_s)
    if after_created is not None and after_id is not None:
        # Keyset paging: rows strictly after (created, id) in (-created, -id) order.
        qs = qs.filter(created__lte=after_created).exclude(created=after_created, id__gte=after_id)
    rows = list(qs[: PAGE + 1])
    next_url = None
    if len(rows) > PAGE:
        last = rows[PAGE - 1]
        params = {**filters, "after": f"{last.created.isoformat()}_{last.pk}"}
        next_url = "?" + urlencode(params)
    rows = rows[:PAGE]
    context = {
        "rows": names.calls(rows),
        "filters": filters,
        "choices": names.filter_choices(),
        "kinds": CallRecord.Kind.choices,
        "next_url": next_url,
        "first_url": "?" + urlencode(filters) if after else None,
    }
    return render(request, "usage/calls.html", context)


@roles.require(VIEW_USAGE)
@require_GET
def call(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(CallRecord, pk=pk)
    return render(request, "usage/call.html", {"call": names.calls([record])[0]})


# --- /metrics -------------------------------------------------------------------------------


@login_not_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for a scraper holding METRICS_TOKEN; unset: not there at all."""
    expected = settings.METRICS_TOKEN
    if not expected:
        raise Http404
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), expected.encode()
    ):
        response = HttpResponse("Send Authorization: Bearer <METRICS_TOKEN>.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    from usage import metrics as exposition

    body, content_type = exposition.exposition()
    return HttpResponse(body, content_type=content_type)
