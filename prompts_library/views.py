import difflib
import json
import re
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event
from django_htmx.middleware import HtmxDetails

from accounts import roles
from bedrock import families, invoke
from config import live, params
from integrations import fallbacks, paging
from integrations.models import BedrockModel
from prompts_library import export_file, import_check, rendering, services, transfer
from prompts_library import fallbacks as prompt_fallbacks
from prompts_library import tokens as api_tokens
from prompts_library.forms import PromptForm, TokenForm
from prompts_library.models import ApiToken, Prompt, PromptTest, PromptVersion
from usage import limits as token_limits
from usage.forms import LimitsForm
from usage.models import TokenLimits

_GREETING = re.compile(r"\bHi\b")


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def starting_point(integration: BedrockModel) -> dict[str, str]:
    """The model family's request body with an {{input}} variable, and where its text is (a
    Converse integration: the Converse example, read the same way for every model)."""
    family = families.detect_family(integration.model_id)
    converse = integration.request_format == invoke.CONVERSE
    if family is None and not converse:
        return {"request_template": integration.request_json, "response_path": ""}

    def placeholder(node: Any) -> Any:
        if isinstance(node, str):
            return _GREETING.sub("{{input}}", node)
        if isinstance(node, list):
            return [placeholder(n) for n in node]
        if isinstance(node, dict):
            return {k: placeholder(v) for k, v in node.items()}
        return node

    if converse or family is None:
        ask = [{"role": "user", "content": [{"text": "{{input}}"}]}]
        body = {**families.CONVERSE_EXAMPLE, "messages": ask}
        template = json.dumps(body, indent=2, ensure_ascii=False)
        return {"request_template": template, "response_path": ""}
    return {
        "request_template": json.dumps(
            placeholder(family.new_request()), indent=2, ensure_ascii=False
        ),
        "response_path": family.text_path,
        "input_tokens_path": family.input_tokens_path or "",
        "output_tokens_path": family.output_tokens_path or "",
    }


@roles.require(roles.VIEW_PROMPTS)
@require_GET
def prompt_list(request: HttpRequest) -> HttpResponse:
    """A page of prompts by name; the versions are counted for that page's prompts only."""
    q = paging.search_text(request)
    prompts = Prompt.objects.select_related(
        "integration__provider", "feature", "published_version"
    ).order_by("name", "pk")
    if q:
        prompts = prompts.filter(
            Q(name__icontains=q) | Q(slug__icontains=q) | Q(feature__name__icontains=q)
        )
    page = paging.page_of(prompts, request)
    counts = dict(
        PromptVersion.objects.filter(prompt__in=[p.pk for p in page.rows])
        .values("prompt")
        .annotate(n=Count("pk"))
        .values_list("prompt", "n")
    )
    for p in page.rows:
        p.version_count = counts.get(p.pk, 0)
    return render(request, "prompts_library/list.html", {"prompts": page.rows, "page": page})


def _render_form(request, form, prompt=None, status=200):
    return render(
        request, "prompts_library/form.html", {"form": form, "prompt": prompt}, status=status
    )


@roles.require(roles.ADD_PROMPT)
def new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = PromptForm(request.POST)
        if not form.is_valid():
            return _render_form(request, form, status=400)
        d = form.cleaned_data
        prompt = services.create_prompt(
            name=d["name"],
            integration=d["integration"],
            feature=d["feature"],
            content=form.content(),
            author=request.user,
            change_note=d["change_note"],
        )
        messages.success(request, f"Created {prompt.name} (version 1).")
        return redirect(prompt)
    initial: dict[str, Any] = {}
    model = params.id_param(request.GET, "model")
    integration = BedrockModel.objects.filter(pk=model).first() if model else None
    if integration is not None:
        initial = {"integration": integration.pk, **starting_point(integration)}
    return _render_form(request, PromptForm(initial=initial))


@roles.require(roles.CHANGE_PROMPT)
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    prompt = get_object_or_404(Prompt, pk=pk)
    if request.method == "POST":
        form = PromptForm(request.POST)
        if not form.is_valid():
            return _render_form(request, form, prompt, status=400)
        d = form.cleaned_data
        version = services.update_prompt(
            prompt,
            name=d["name"],
            integration=d["integration"],
            feature=d["feature"],
            content=form.content(),
            author=request.user,
            change_note=d["change_note"],
        )
        messages.success(request, f"Saved version {version.number}.")
        return redirect(prompt)
    latest = prompt.versions.order_by("-number").first()
    if latest is None:
        raise Http404
    form = PromptForm.for_version(prompt, latest)
    picked = request.GET.get("response_path", "").strip()
    if picked:
        # "Edit with this Response path" from a test's raw response.
        form.initial["response_path"] = picked[:1000]
    return _render_form(request, form, prompt)


@roles.require(roles.ADD_PROMPT)
@require_POST
def variables(request: HttpRequest) -> HttpResponse:
    """The "Sample: <variable>" fields for the Request JSON being typed (htmx)."""
    form = PromptForm(request.POST)
    return render(request, "prompts_library/form.html#samples", {"form": form})


@roles.require(roles.ADD_PROMPT)
@require_POST
def assist(request: HttpRequest) -> HttpResponse:
    """Choosing the model: prefill Request JSON and paths when they are empty or a default."""
    model = params.id_param(request.POST, "integration")
    integration = BedrockModel.objects.filter(pk=model).first() if model else None
    suggestions: dict[str, str] = {}
    if integration is not None:
        current = request.POST.get("request_template", "").strip()
        defaults = {
            starting_point(m)["request_template"].strip()
            for m in BedrockModel.objects.only("model_id", "request_json", "request_format")
        }
        if not current or current in defaults:
            suggestions = starting_point(integration)
    context: dict[str, Any] = {"suggestions": suggestions}
    editing = params.id_param(request.POST, "prompt")
    prompt = (
        Prompt.objects.select_related("integration", "published_version").filter(pk=editing).first()
        if editing
        else None
    )
    if prompt is not None:
        context["editing"] = True
        moved = integration is not None and integration.pk != prompt.integration_id
        if moved and integration is not None and prompt.published_version is not None:
            context["model_change"] = _model_change(prompt, integration)
    response = render(request, "prompts_library/assist.html", context)
    # Applied by the page only to fields the admin has not changed since (static/js/console.js).
    seq = request.POST.get("assist_seq", "")
    return trigger_client_event(
        response,
        "consoleSuggest",
        {"seq": int(seq) if seq.isdigit() else 0, "fields": suggestions},
    )


@roles.require(roles.VIEW_PROMPTS)
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    prompt = get_object_or_404(
        Prompt.objects.select_related("integration__provider", "feature", "published_version"),
        pk=pk,
    )
    versions = prompt.versions.select_related("author").order_by("-number")
    tests = _tests_of(prompt)
    own = prompt_fallbacks.own_chain(prompt)
    context = {
        "prompt": prompt,
        "versions": versions,
        "tests": tests,
        "latest": versions.first(),
        **fallbacks.page_context(
            prompt.integration,
            own or fallbacks.chain_of(prompt.integration),
            reverse("prompts_library:fallbacks", args=[prompt.pk])
            if request.user.has_perm(roles.CHANGE_PROMPT)
            else "",
            inherited=not own,
        ),
    }
    return render(request, "prompts_library/detail.html", context)


def _version(prompt_pk: int, number: int) -> tuple[Prompt, PromptVersion]:
    prompt = get_object_or_404(Prompt.objects.select_related("integration"), pk=prompt_pk)
    return prompt, get_object_or_404(PromptVersion, prompt=prompt, number=number)


@roles.require(roles.RUN_TESTS)
@require_POST
def test(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    prompt, version = _version(pk, number)
    context: dict[str, Any] = {"test": None, "error": None}
    try:
        context["test"] = services.start_test(prompt, version, request.user)
    except rendering.RenderError as e:
        context["error"] = f"The sample values do not render: {e.message}"
    except services.QueueUnavailable:
        context["error"] = "The task queue is unavailable, so the test could not start."
    context.update(_live(request, prompt))
    return render(request, "prompts_library/test_outcome.html", context)


def _live(request: HttpRequest, prompt: Prompt) -> dict[str, Any]:
    """What a test's answer updates besides itself on the page it was asked from (?on=...)."""
    on = request.GET.get("on", "")
    if on != "detail":
        return {"live": True}
    return {"live": True, "on": on, "tests": _tests_of(prompt)}


def _tests_of(prompt: Prompt) -> list[PromptTest]:
    return list(prompt.tests.select_related("version", "created_by")[:50])


@roles.require(roles.RUN_TESTS)
@require_POST
def test_draft(request: HttpRequest, pk: int) -> HttpResponse:
    """Test the editing page's current values (template, samples, paths, model), unsaved."""
    prompt = get_object_or_404(Prompt.objects.select_related("integration"), pk=pk)
    return _test_form_values(request, prompt)


@roles.require(roles.ADD_PROMPT, roles.RUN_TESTS)
@require_POST
def test_new(request: HttpRequest) -> HttpResponse:
    """Test the new prompt page's values on the chosen model, before the prompt exists."""
    return _test_form_values(request, None)


# What a Test needs from the form; the name, feature and change note can come afterwards.
_NOT_NEEDED_TO_TEST = {"name", "feature", "change_note"}


def _test_form_values(request: HttpRequest, prompt: Prompt | None) -> HttpResponse:
    form = PromptForm(request.POST)
    context: dict[str, Any] = {"test": None, "error": None}
    form.is_valid()
    problems = [
        f"{form.fields[name].label if name in form.fields else 'Form'}: {e}"
        for name, errors in form.errors.items()
        if name not in _NOT_NEEDED_TO_TEST
        for e in errors
    ]
    if problems:
        context["error"] = "Fix the form first. " + " ".join(problems)
        return render(request, "prompts_library/test_outcome.html", context)
    integration = form.cleaned_data["integration"]
    try:
        if prompt is None:
            context["test"] = services.start_new_prompt_test(
                form.content(), request.user, integration
            )
        else:
            context["test"] = services.start_draft_test(
                prompt, form.content(), request.user, integration
            )
    except rendering.RenderError as e:
        context["error"] = f"The sample values do not render: {e.message}"
    except services.QueueUnavailable:
        context["error"] = "The task queue is unavailable, so the test could not start."
    return render(request, "prompts_library/test_outcome.html", context)


@roles.require(roles.VIEW_PROMPTS)
@require_GET
def test_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The test's stored status (the page without JavaScript; the part for htmx).

    With ?compact=1, only a badge (the affected prompts' list).
    """
    test = get_object_or_404(
        PromptTest.objects.select_related("prompt", "version", "integration"), pk=pk
    )
    if not test.is_terminal and services.reap_stale_test(pk):
        test.refresh_from_db()
    if request.GET.get("compact"):
        return render(request, "prompts_library/_affected.html#badge", {"test": test})
    template = "prompts_library/test_status.html"
    if not request.htmx:
        return render(request, template, {"test": test})
    return render(request, template + "#status", _status_context(request, test))


@roles.require(roles.VIEW_PROMPTS)
@require_GET
async def test_events(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The test's part (or with ?compact=1 its badge) as Server-Sent Events (config.live)."""
    seen = request.GET.get("seen", "")
    compact = bool(request.GET.get("compact"))
    rows = PromptTest.objects.filter(pk=pk).select_related("prompt", "version", "integration")
    if not await rows.aexists():
        raise Http404

    def render_part(test: PromptTest) -> str:
        if compact:
            return render_to_string("prompts_library/_affected.html#badge", {"test": test})
        context = _status_context(request, test)
        return render_to_string("prompts_library/test_status.html#status", context, request)

    look = live.status_look(rows, render_part)
    return live.stream(PromptTest, pk, seen, look, lambda: services.reap_stale_test(pk))


def _status_context(request: HttpRequest, test: PromptTest) -> dict[str, Any]:
    extra = _live(request, test.prompt) if test.prompt is not None else {"live": True}
    return {"test": test, **extra}


def _affected_context(integration: BedrockModel, prompts: list[Prompt], **extra: Any) -> dict:
    retest_url = reverse("prompts_library:retest_affected", args=[integration.pk])
    return {"integration": integration, "affected": prompts, "retest_url": retest_url, **extra}


def _model_change(prompt: Prompt, integration: BedrockModel, **extra: Any) -> dict[str, Any]:
    """The editing page's Model moved: this prompt's published version is what it affects."""
    prompt.last_test = (  # type: ignore[attr-defined]
        PromptTest.objects.filter(version_id=prompt.published_version_id)
        .filter(integration=integration if integration.pk != prompt.integration_id else None)
        .order_by("-created")
        .first()
    )
    note = (
        f"Saving moves the published version v{prompt.published_version.number} of this "
        f"prompt from {prompt.integration} to {integration}: features get the new model's "
        "answers at once. Re-test it on the new model before saving."
        if prompt.published_version
        else ""
    )
    return {
        **_affected_context(integration, [prompt], **extra),
        "note": note,
        "retest_url": reverse("prompts_library:retest_on_model", args=[prompt.pk]),
        "include": "#id_integration",
    }


@roles.require(roles.RUN_TESTS)
@require_POST
def retest_on_model(request: HttpRequest, pk: int) -> HttpResponse:
    """The editing page's "Re-test affected prompts": the published version on the chosen model."""
    prompt = get_object_or_404(
        Prompt.objects.select_related("integration", "published_version"), pk=pk
    )
    model = params.id_param(request.POST, "integration")
    integration = get_object_or_404(BedrockModel, pk=model) if model else None
    if integration is None or prompt.published_version is None:
        raise Http404
    error = ""
    try:
        services.start_test(prompt, prompt.published_version, request.user, integration)
    except rendering.RenderError as e:
        error = f"The published version's samples do not render: {e.message}"
    except services.QueueUnavailable:
        error = "The task queue is unavailable, so the test could not start."
    context = _model_change(prompt, integration, error=error, retested=not error)
    return render(request, "prompts_library/_affected.html", context)


@roles.require(roles.VIEW_PROMPTS)
@require_GET
def affected(request: HttpRequest, integration_pk: int) -> HttpResponse:
    """The published prompts that call this integration, with their last test (htmx)."""
    integration = get_object_or_404(BedrockModel, pk=integration_pk)
    prompts = services.affected_prompts(integration)
    return render(
        request, "prompts_library/_affected.html", _affected_context(integration, prompts)
    )


@roles.require(roles.RUN_TESTS)
@require_POST
def retest_affected(request: HttpRequest, integration_pk: int) -> HttpResponse:
    """Re-test affected prompts: a test of each published version, shown live."""
    integration = get_object_or_404(BedrockModel, pk=integration_pk)
    prompts = services.affected_prompts(integration)
    error = ""
    try:
        services.retest_published(prompts, request.user)
    except services.QueueUnavailable:
        error = "The task queue is unavailable, so not every test could start."
    return render(
        request,
        "prompts_library/_affected.html",
        _affected_context(integration, prompts, error=error, retested=True),
    )


@roles.require(roles.PUBLISH)
@require_POST
def publish(request: HtmxHttpRequest, pk: int, number: int) -> HttpResponse:
    prompt, version = _version(pk, number)
    services.publish(prompt, version)
    messages.success(request, f"Published version {version.number}.")
    if request.htmx:
        return HttpResponseClientRedirect(prompt.get_absolute_url())
    return redirect(prompt)


@roles.require(roles.PUBLISH)
@require_POST
def rollback(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    prompt, old = _version(pk, number)
    version = services.rollback(prompt, old, request.user)
    messages.success(
        request, f"Rolled back: version {version.number} has version {old.number}'s content."
    )
    return redirect(prompt)


def _lines(version: PromptVersion, part: str) -> list[str]:
    if part == "template":
        return version.request_template.splitlines()
    if part == "paths":
        return [
            f"Response path: {version.response_path}",
            f"Input tokens: {version.input_tokens_path}",
            f"Output tokens: {version.output_tokens_path}",
        ]
    return [f"{k}: {v}" for k, v in sorted((version.samples or {}).items())]


def _version_number(request: HttpRequest, name: str, default: int) -> int:
    """?a= or ?b=: a version number, or no such version (404)."""
    raw = request.GET.get(name)
    if not raw:
        return default
    number = params.parse_int(raw, minimum=1)
    if number is None:
        raise Http404
    return number


@roles.require(roles.VIEW_PROMPTS)
@require_GET
def compare(request: HttpRequest, pk: int) -> HttpResponse:
    prompt = get_object_or_404(Prompt, pk=pk)
    numbers = list(prompt.versions.order_by("-number").values_list("number", flat=True))
    if not numbers:
        raise Http404
    a = _version_number(request, "a", numbers[1] if len(numbers) > 1 else numbers[0])
    b = _version_number(request, "b", numbers[0])
    va = get_object_or_404(PromptVersion, prompt=prompt, number=a)
    vb = get_object_or_404(PromptVersion, prompt=prompt, number=b)
    differ = difflib.HtmlDiff(wrapcolumn=70)
    sections = [
        (title, differ.make_table(_lines(va, part), _lines(vb, part), f"v{a}", f"v{b}"))
        for title, part in (
            ("Request JSON", "template"),
            ("Response and token paths", "paths"),
            ("Samples", "samples"),
        )
    ]
    context = {"prompt": prompt, "a": va, "b": vb, "sections": sections, "numbers": numbers}
    return render(request, "prompts_library/compare.html", context)


@roles.require(roles.VIEW_TOKENS, post=(roles.MANAGE_TOKENS,))
def tokens(request: HttpRequest) -> HttpResponse:
    created = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _, created = api_tokens.issue_token(
            form.cleaned_data["name"],
            request.user,
            form.cleaned_data["prompts"],
            form.cleaned_data["features"],
            all_prompts=form.cleaned_data["all_prompts"],
            limits=form.limits(),
            integrations=form.cleaned_data["integrations"],
            all_integrations=form.cleaned_data["all_integrations"],
        )
        form = TokenForm()
    rows = ApiToken.objects.select_related("created_by").prefetch_related(
        "prompts", "features", "integrations__provider"
    )
    context = {"form": form, "tokens": rows, "created": created}
    status = 400 if form.is_bound and form.errors else 200
    response = render(request, "prompts_library/tokens.html", context, status=status)
    if created:
        # The page holds a bearer token: no browser or proxy cache may keep it.
        add_never_cache_headers(response)
    return response


@roles.require(roles.MANAGE_TOKENS)
def edit_token(request: HttpRequest, pk: int) -> HttpResponse:
    """The token's form: its limits (its secret is never shown again; its scope is fixed)."""
    token = get_object_or_404(ApiToken, pk=pk)
    current = TokenLimits.objects.filter(token=token).first()
    initial = {name: getattr(current, name) for name in token_limits.FIELDS} if current else {}
    form = LimitsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changed = token_limits.do_set_limits(token, **form.limits(), user=request.user)
        messages.success(request, "Limits saved." if changed else "Nothing changed.")
        return redirect("prompts_library:edit_token", pk=token.pk)
    context = {
        "token": token,
        "form": form,
        "limits": current,
        "use": token_limits.current_use(token.pk),
    }
    status = 400 if form.is_bound else 200
    return render(request, "prompts_library/token_form.html", context, status=status)


@roles.require(roles.MANAGE_TOKENS)
@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    api_tokens.revoke_token(pk)
    messages.success(request, "Token revoked.")
    return redirect("prompts_library:tokens")


# --- import and export --------------------------------------------------------------------

MAX_IMPORT_BYTES = 20 * 1024 * 1024


class ImportForm(forms.Form):
    file = forms.FileField(label="Export file", help_text="A JSON file from Export.")
    dry_run = forms.BooleanField(
        label="Dry run: show what would change, write nothing", required=False, initial=True
    )


@roles.require(roles.VIEW_PROMPTS)
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    data = export_file.export_data()
    response = HttpResponse(export_file.dumps(data), content_type="application/json")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="bedrock-console-export-{stamp}.json"'
    return response


@roles.require(
    roles.ADD_PROMPT,
    post=(roles.ADD_INTEGRATION, roles.CHANGE_INTEGRATION, roles.CHANGE_PROMPT, roles.PUBLISH),
)
def import_view(request: HttpRequest) -> HttpResponse:
    report, error, status = None, "", 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > MAX_IMPORT_BYTES:
                    raise import_check.TransferError("The file is larger than 20 MB.")
                report = transfer.import_data(
                    import_check.load(upload.read()),
                    dry_run=form.cleaned_data["dry_run"],
                    user=request.user,
                )
            except import_check.TransferError as e:
                error, status = f"Nothing was imported. {e}", 400
        else:
            status = 400
    else:
        form = ImportForm()
    return render(
        request,
        "prompts_library/import.html",
        {"form": form, "report": report, "error": error},
        status=status,
    )
