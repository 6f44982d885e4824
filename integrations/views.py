import contextlib
import functools
import itertools
import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event
from django_htmx.middleware import HtmxDetails

from accounts import roles
from bedrock import arns, client, endpoints, families, invoke, policies, regions
from bedrock.regions import partition_for_region
from bedrock.values import InvalidValue
from config import live, params
from config.reread import Reread
from integrations import fallbacks, paging, services
from integrations.forms import (
    FallbacksForm,
    IntegrationForm,
    price_suggestions,
    provider_external_id,
)
from integrations.models import (
    BedrockModel,
    ConnectionTest,
    Provider,
    masked_headers,
    suggest_api_name,
)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@roles.require(roles.VIEW)
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """A page of integrations (provider, then name), grouped by provider within the page."""
    q = paging.search_text(request)
    integrations = BedrockModel.objects.select_related("provider", "last_test").order_by(
        "provider__name", "name", "pk"
    )
    if q:
        integrations = integrations.filter(
            Q(name__icontains=q) | Q(provider__name__icontains=q) | Q(model_id__icontains=q)
        )
    page = paging.page_of(integrations, request)
    _mark_running(page.rows)
    groups = [
        (provider, list(rows))
        for provider, rows in itertools.groupby(page.rows, key=lambda m: m.provider)
    ]
    # Providers still without a model, so that "Add a model" stays one click away (first page).
    empty_providers: list[Provider] = []
    if page.number == 1 and not q:
        empty_providers = list(Provider.objects.filter(models__isnull=True)[: paging.PAGE_SIZE])
    return render(
        request,
        "integrations/home.html",
        {"groups": groups, "page": page, "empty_providers": empty_providers},
    )


def _mark_running(integrations: list[BedrockModel]) -> None:
    """Give each integration `running`: its latest test still in progress, if any (one query).

    An integration's last_test is the last one that ended; the home page shows a running one
    instead, and follows it live until it ends.
    """
    running: dict[int, ConnectionTest] = {}
    in_progress = (
        ConnectionTest.objects.filter(integration__in=[m.pk for m in integrations])
        .exclude(status__in=ConnectionTest.TERMINAL)
        .order_by("created")
    )
    for t in in_progress:
        running[t.integration_id] = t  # type: ignore[index]
    for m in integrations:
        m.running = running.get(m.pk)  # type: ignore[attr-defined]


def _step1_context(form: IntegrationForm) -> dict:
    """Step 1's ready-to-copy policies for the values in the form (or its initial values)."""
    value = form.data.get if form.is_bound else (lambda k, d="": form.initial.get(k, d))
    external_id = value("external_id", "") or ""
    identity = client.platform_identity()
    model_text = (value("model_id", "") or "").strip()
    permission, permission_error, model_info = None, None, None
    if model_text:
        try:
            model = arns.parse_model_id(model_text)
            endpoint_region = None
            with contextlib.suppress(InvalidValue):
                endpoint_region = endpoints.check_endpoint(
                    value("endpoint", "") or "", "bedrock-runtime", settings.EXTRA_AWS_ENDPOINTS
                ).region
            region = endpoints.source_region(model, endpoint_region, settings.AWS_REGION)
            # Test streams by default (the Stream option): the role needs both actions.
            permission = policies.permission_policy(
                model, region, streaming=True, account=_role_account(value("role_arn", ""))
            )
            model_info = _model_info(model, region)
        except InvalidValue as e:
            permission_error = str(e)
    try:
        external_id = policies.validate_external_id(external_id)
    except InvalidValue:
        external_id = "EXTERNAL_ID_FROM_STEP_2"
    return {
        "identity": identity,
        "trust_policy": json.dumps(
            policies.trust_policy(identity.principal, external_id), indent=2
        ),
        "permission_policy": json.dumps(permission, indent=2) if permission else None,
        "permission_error": permission_error,
        "model_info": model_info,
    }


def _role_account(role_arn: str | None) -> str | None:
    """The role's account: the one that owns a system inference profile's ARN."""
    try:
        return arns.parse_role_arn(role_arn or "").account
    except InvalidValue:
        return None


def _model_info(model: arns.ModelRef, region: str) -> dict[str, Any]:
    """What step 1 says of the model: family, and for a profile where its calls go."""
    family = families.detect_family(model)
    routes = None
    if model.is_profile and model.geo:
        routes = regions.profile_regions(model.geo)
        if "*" not in routes and region not in routes:
            routes.insert(0, region)
    return {
        "model": model,
        "family": family.label if family else None,
        "region": region,
        "endpoint": endpoints.default_bedrock_endpoint(region, partition_for_region(region)),
        "routes": routes,
        "is_global": model.geo == "global",
    }


def _render_setup(request, form, integration=None, status=200):
    context = {"form": form, "integration": integration, **_step1_context(form)}
    return render(request, "integrations/setup.html", context, status=status)


@roles.require(roles.ADD_INTEGRATION)
def new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save(request, None)
    initial = {
        "external_id": policies.generate_external_id(),
        "sts_endpoint": endpoints.default_sts_endpoint(settings.AWS_REGION),
        "endpoint": endpoints.default_bedrock_endpoint(settings.AWS_REGION),
        "request_json": families.default_request_json(None),
    }
    provider_id = params.id_param(request.GET, "provider")
    provider = Provider.objects.filter(pk=provider_id).first() if provider_id else None
    if provider:
        initial.update(provider_name=provider.name, external_id=provider.external_id)
    return _render_setup(request, IntegrationForm(initial=initial))


@roles.require(roles.CHANGE_INTEGRATION)
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(BedrockModel.objects.select_related("provider"), pk=pk)
    if request.method == "POST":
        return _save(request, integration)
    return _render_setup(request, IntegrationForm(instance=integration), integration)


def _save(request: HttpRequest, integration: BedrockModel | None) -> HttpResponse:
    form = IntegrationForm(request.POST, instance=integration)
    if not form.is_valid():
        return _render_setup(request, form, integration, status=400)
    try:
        saved = services.save_integration(
            provider_name=form.cleaned_data["provider_name"],
            model_name=form.cleaned_data["model_name"],
            config=form.configuration(),
            integration=integration,
            prices=form.prices(),
            api_name=form.cleaned_data["api_name"],
        )
    except services.NotTested:
        form.add_error(
            None, "Run Test on exactly these values, and wait for Success, before saving."
        )
        return _render_setup(request, form, integration, status=400)
    messages.success(request, f"Saved {saved}.")
    return redirect(saved)


@roles.require(roles.RUN_TESTS)
@require_POST
def test(request: HttpRequest) -> HttpResponse:
    """Validate the form; if it is valid, queue a test and show its live status."""
    integration = None
    integration_id = params.id_param(request.POST, "integration")
    if integration_id is not None:
        integration = _tested_integration().first_matching(pk=integration_id)
        if integration is None:
            raise Http404
    form = IntegrationForm(request.POST, instance=integration)
    context: dict[str, Any] = {"form": form, "test": None, "queue_error": None}
    # A bad price or API model name shows beside its field, but they are not tested: the Test
    # runs.
    if form.is_valid() or not form.errors_besides_prices():
        try:
            context["test"] = services.start_test(
                form.configuration(),
                request.user,
                integration,
                stream=request.POST.get("stream") == "1",
            )
        except services.QueueUnavailable:
            context["queue_error"] = (
                "The task queue is unavailable, so the test could not start. Nothing was saved; "
                "your values are still in the form. Try again in a moment."
            )
    return render(request, "integrations/test_outcome.html", context)


@functools.cache
def _tested_integration() -> Reread:
    """How a Test reads the integration it tests, with its provider (the form and the test's
    audit event name it): a statement built once, as a Test is on its way to the worker."""
    return Reread(BedrockModel.objects.select_related("provider"))


@roles.require(roles.RUN_TESTS)
@require_POST
def retest(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(BedrockModel, pk=pk)
    try:
        services.start_test(integration.configuration(), request.user, integration)
    except services.QueueUnavailable:
        messages.error(request, "The task queue is unavailable, so the test could not start.")
    if request.htmx:
        return HttpResponseClientRedirect(integration.get_absolute_url())
    return redirect(integration)


@roles.require(roles.VIEW)
@require_GET
def test_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The test's stored status (the page without JavaScript; the part for htmx)."""
    test = get_object_or_404(ConnectionTest.objects.select_related("integration"), pk=pk)
    if not test.is_terminal and services.reap_stale_tests(pk):
        test.refresh_from_db()
    htmx = bool(request.htmx)
    template, context = _status_part(
        test,
        htmx=htmx,
        for_form=htmx and request.GET.get("for_form") == "1",
        on=request.GET.get("on", "") if htmx else "",
    )
    return render(request, template, context)


@roles.require(roles.VIEW)
@require_GET
async def test_events(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The test's part (as test_status renders it for htmx) as Server-Sent Events (config.live)."""
    seen = request.GET.get("seen", "")
    for_form = request.GET.get("for_form") == "1"
    on = request.GET.get("on", "")
    # The row and all its part shows of others (who started it, the integration), read in one
    # query at each look.
    rows = ConnectionTest.objects.filter(pk=pk).select_related(
        "created_by", "integration__provider", "integration__last_test"
    )
    if not await rows.aexists():
        raise Http404

    def render_part(test: ConnectionTest) -> str:
        template, context = _status_part(
            test, htmx=True, for_form=for_form, on=on, integration_read=True
        )
        return render_to_string(template, context, request)

    def render_text(test: ConnectionTest) -> str | None:
        if not (test.stream and test.status == ConnectionTest.Status.INVOKING):
            return None
        return render_to_string("integrations/test_status.html#streamed", {"test": test})

    look = live.status_look(rows, render_part, render_text)
    return live.stream(ConnectionTest, pk, seen, look, lambda: services.reap_stale_tests(pk))


def _status_part(
    test: ConnectionTest, *, htmx: bool, for_form: bool, on: str, integration_read: bool = False
) -> tuple[str, dict[str, Any]]:
    """The template and context of a test's status: the page, or the part a page swaps in.

    With `integration_read`, test.integration was read with the row (its provider and last
    test too), so it is as current as the row; else it is read now."""
    if integration_read:
        integration = test.integration
    else:
        integration = (
            BedrockModel.objects.select_related("provider", "last_test")
            .filter(pk=test.integration_id or 0)
            .first()
        )
    if on == "home" and integration is not None:
        # The home page's row of this integration: status, last test, last success and failure.
        _mark_running([integration])
        return "integrations/home.html#row", {"m": integration}
    template = "integrations/test_status.html"
    if htmx:
        template += "#status"
    context: dict[str, Any] = {
        "test": test,
        # Asked from the setup form, the final answer also carries the form's Save button.
        "for_form": for_form,
        # Asked from a page, the answer also updates what depends on the test (out of band).
        "live": htmx,
        "on": on if on in ("detail",) else "",
        "integration": integration,
    }
    if on == "detail" and integration is not None:
        context["history"] = _history(integration)
    return template, context


def _history(integration: BedrockModel) -> list[ConnectionTest]:
    return list(integration.tests.select_related("created_by")[:50])


@roles.require(roles.VIEW)
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(
        BedrockModel.objects.select_related("provider", "last_test"), pk=pk
    )
    history = _history(integration)
    try:
        prompt_new_url = reverse("prompts_library:new")
    except NoReverseMatch:
        prompt_new_url = None
    context = {
        "integration": integration,
        "history": history,
        "latest_test": history[0] if history else None,
        "masked_headers": masked_headers(integration.headers),
        "prompt_new_url": prompt_new_url,
        **fallbacks.page_context(
            integration,
            fallbacks.chain_of(integration),
            reverse("integrations:fallbacks", args=[integration.pk])
            if request.user.has_perm(roles.CHANGE_INTEGRATION)
            else "",
        ),
    }
    return render(request, "integrations/detail.html", context)


@roles.require(roles.CHANGE_INTEGRATION)
def edit_fallbacks(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(BedrockModel.objects.select_related("provider"), pk=pk)
    chain = fallbacks.chain_of(integration)
    form = FallbacksForm(
        request.POST if request.method == "POST" else None, primary=integration, chain=chain
    )
    if request.method == "POST" and form.is_valid():
        fallbacks.set_chain(integration, form.chain, request.user)
        messages.success(request, "Fallbacks saved.")
        return redirect(integration)
    context = {
        "form": form,
        "subject": integration,
        "back_url": integration.get_absolute_url(),
        "explanation": FALLBACKS_EXPLANATION,
    }
    return render(
        request, "integrations/fallbacks.html", context, status=400 if form.errors else 200
    )


FALLBACKS_EXPLANATION = (
    "Calls of this integration through the Invoke API and chat completions try these "
    "integrations in order when it is throttled, times out or fails with a server error. "
    "A request in a family's own JSON (InvokeModel) can only fall back to models of the same "
    "family; a Converse request runs on every family. A prompt with fallbacks of its own uses "
    "them instead."
)


def _request_suggestion(data: QueryDict, family: families.Family | None) -> str | None:
    """The Request JSON to prefill for the chosen format and model, while the field is empty
    or still holds an untouched suggestion (a family's body or the Converse example)."""
    current = data.get("request_json", "").strip()
    converse = families.converse_request_json()
    defaults = {families.default_request_json(f).strip() for f in families.FAMILIES.values()}
    if current and current not in defaults and current != converse.strip():
        return None
    if data.get("request_format") == invoke.CONVERSE:
        return converse
    if family is not None or current == converse.strip():
        return families.default_request_json(family)
    return None


@roles.require(roles.ADD_INTEGRATION)
@require_POST
def assist(request: HttpRequest) -> HttpResponse:
    """As the admin types: provider's External ID, endpoint and body for the model, policies."""
    data = request.POST
    suggestions: dict[str, str] = {}
    external_id = provider_external_id(data.get("provider_name", ""))
    if external_id and data.get("external_id_auto") == "1":
        suggestions["external_id"] = external_id
    model = None
    with contextlib.suppress(InvalidValue):
        model = arns.parse_model_id(data.get("model_id", "").strip())
    home = endpoints.model_region(model) if model is not None else None
    if home is not None and data.get("endpoint_auto") == "1":
        suggestions["endpoint"] = endpoints.default_bedrock_endpoint(
            home, partition_for_region(home)
        )
    provider_name, model_name = data.get("provider_name", ""), data.get("model_name", "")
    if not data.get("integration") and provider_name.strip() and model_name.strip():
        # A new integration is offered a free API model name derived from its names.
        suggestions["api_name"] = suggest_api_name(provider_name, model_name)
    suggestion = _request_suggestion(data, families.detect_family(model) if model else None)
    if suggestion is not None:
        suggestions["request_json"] = suggestion
    if model is not None:
        suggestions.update(price_suggestions(model.model_id, data))
    form = IntegrationForm(data)
    form.is_bound = True
    context = {"suggestions": suggestions, "form": form, **_step1_context(form)}
    if (model is not None and "endpoint" in suggestions) or data.get("endpoint"):
        try:
            endpoint = endpoints.check_endpoint(
                suggestions.get("endpoint") or data.get("endpoint", ""),
                "bedrock-runtime",
                settings.EXTRA_AWS_ENDPOINTS,
            )
            context["region_warning"] = (
                endpoints.region_mismatch(model, endpoint) if model else None
            )
        except InvalidValue:
            pass
    response = render(request, "integrations/assist.html", context)
    # The suggestions travel as data, not as swapped inputs: the page applies each one only to a
    # field that still holds the value it had when they were asked for (static/js/console.js).
    seq = data.get("assist_seq", "")
    return trigger_client_event(
        response,
        "consoleSuggest",
        {"seq": int(seq) if seq.isdigit() else 0, "fields": suggestions},
    )
