from __future__ import annotations

from typing import Any

import jmespath
from django import forms

from bedrock import invoke, rules
from bedrock.values import InvalidValue
from integrations.models import BedrockModel
from prompts_library import rendering, services, tokens
from prompts_library.models import Feature, Prompt, PromptVersion
from usage.forms import LimitsForm


def _jmespath(value: str, label: str) -> str:
    value = value.strip()
    if value:
        try:
            jmespath.compile(value)
        except jmespath.exceptions.JMESPathError as e:
            raise forms.ValidationError(f"The {label} is not valid JMESPath: {e}") from None
    return value


def normalise_newlines(value: str) -> str:
    return value.replace("\r\n", "\n")


class PromptForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    integration = forms.ModelChoiceField(
        label="Model",
        queryset=BedrockModel.objects.select_related("provider"),
        help_text="A configured integration.",
    )
    feature = forms.ModelChoiceField(label="Feature", queryset=Feature.objects.all())
    request_template = forms.CharField(
        label="Request JSON",
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
        help_text="The complete InvokeModel body, with {{variable}} placeholders.",
    )
    response_path = forms.CharField(
        label="Response path",
        max_length=1000,
        required=False,  # a Converse integration's answers are read the same way for every model
        help_text="A JMESPath expression to the text in the model's response (not needed when "
        "the model's integration uses Converse).",
    )
    input_tokens_path = forms.CharField(label="Input tokens", max_length=1000, required=False)
    output_tokens_path = forms.CharField(label="Output tokens", max_length=1000, required=False)
    change_note = forms.CharField(label="Change note", max_length=500, required=False)

    def __init__(self, data=None, *, initial: dict[str, Any] | None = None) -> None:
        super().__init__(data, initial=initial)
        self.samples: dict[str, str] = {}
        source = data if data is not None else None
        template = (
            source.get("request_template", "")
            if source is not None
            else (initial or {}).get("request_template", "")
        )
        self.variables = rendering.find_variables(template or "")
        given = (initial or {}).get("samples") or {}
        for name in self.variables:
            value = source.get(f"sample_{name}", "") if source is not None else given.get(name, "")
            # Browsers submit a textarea's line breaks as CRLF (HTML spec); keep them as \n.
            self.samples[name] = normalise_newlines(value) if source is not None else value

    @classmethod
    def for_version(cls, prompt: Prompt, version: PromptVersion) -> PromptForm:
        return cls(
            initial={
                "name": prompt.name,
                "integration": prompt.integration_id,
                "feature": prompt.feature_id,
                "request_template": version.request_template,
                "response_path": version.response_path,
                "input_tokens_path": version.input_tokens_path,
                "output_tokens_path": version.output_tokens_path,
                "samples": version.samples,
            }
        )

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_request_template(self) -> str:
        text = self.cleaned_data["request_template"]
        try:
            rules.check_request_size(text)
        except InvalidValue as e:
            raise forms.ValidationError(str(e)) from None
        try:
            rendering.parse(text)
        except rendering.RenderError as e:
            raise forms.ValidationError(e.message) from None
        return text.strip()

    def clean_response_path(self) -> str:
        return _jmespath(self.cleaned_data["response_path"], "Response path")

    def clean_input_tokens_path(self) -> str:
        return _jmespath(self.cleaned_data["input_tokens_path"], "input tokens path")

    def clean_output_tokens_path(self) -> str:
        return _jmespath(self.cleaned_data["output_tokens_path"], "output tokens path")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        integration = data.get("integration")
        converse = integration is not None and integration.request_format == invoke.CONVERSE
        if not converse and not data.get("response_path") and "response_path" not in self.errors:
            self.add_error("response_path", "This field is required.")
        return data

    def content(self) -> services.VersionContent:
        d = self.cleaned_data
        return services.VersionContent(
            request_template=d["request_template"],
            response_path=d["response_path"],
            input_tokens_path=d["input_tokens_path"],
            output_tokens_path=d["output_tokens_path"],
            samples=dict(self.samples),
        )


class TokenForm(LimitsForm):  # its limits: usage.forms.LimitsForm
    name = forms.CharField(label="Name", max_length=100)
    all_prompts = forms.BooleanField(
        label="All prompts",
        required=False,
        help_text="Every prompt, including prompts created later. Otherwise choose below.",
    )
    prompts = forms.ModelMultipleChoiceField(
        label="Only these prompts", queryset=Prompt.objects.all(), required=False
    )
    features = forms.ModelMultipleChoiceField(
        label="Only the prompts of these features", queryset=Feature.objects.all(), required=False
    )
    all_integrations = forms.BooleanField(
        label="All integrations",
        required=False,
        help_text="Every integration through the OpenAI-compatible API (/api/v1/chat/"
        "completions), including integrations saved later. Otherwise choose below.",
    )
    integrations = forms.ModelMultipleChoiceField(
        label="Only these integrations",
        queryset=BedrockModel.objects.select_related("provider"),
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        d = super().clean() or {}
        if self.has_error("prompts") or self.has_error("integrations"):
            return d
        try:
            tokens.check_scope(
                bool(d.get("all_prompts")),
                bool(d.get("prompts")) or bool(d.get("features")),
                bool(d.get("all_integrations")),
                bool(d.get("integrations")),
            )
        except tokens.ScopeError as e:
            raise forms.ValidationError(str(e)) from None
        return d
