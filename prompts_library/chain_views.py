"""Editing a prompt's own fallback chain (the detail page shows it, or its model's)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts import roles
from integrations.forms import FallbacksForm
from prompts_library import fallbacks as prompt_fallbacks
from prompts_library.models import Prompt

EXPLANATION = (
    "Calls of this prompt through the Invoke API try these integrations in order when its "
    "model is throttled, times out or fails with a server error. With none chosen, its "
    "model's fallbacks apply; with some, they replace its model's. The prompt's Request JSON "
    "is in its model's format: in a family's own JSON (InvokeModel) it can only fall back to "
    "models of the same family; a Converse request runs on every family."
)


@roles.require(roles.CHANGE_PROMPT)
def edit_fallbacks(request: HttpRequest, pk: int) -> HttpResponse:
    prompt = get_object_or_404(Prompt.objects.select_related("integration__provider"), pk=pk)
    form = FallbacksForm(
        request.POST if request.method == "POST" else None,
        primary=prompt.integration,
        chain=prompt_fallbacks.own_chain(prompt),
    )
    if request.method == "POST" and form.is_valid():
        prompt_fallbacks.set_chain(prompt, form.chain, request.user)
        messages.success(request, "Fallbacks saved.")
        return redirect(prompt)
    context = {
        "form": form,
        "subject": prompt,
        "back_url": prompt.get_absolute_url(),
        "explanation": EXPLANATION,
    }
    status = 400 if form.errors else 200
    return render(request, "integrations/fallbacks.html", context, status=status)
