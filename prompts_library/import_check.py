"""Read an export file and check all of it before the import writes anything.

Every rule on a value comes from bedrock (the same rules as the forms and the API); a refusal
is a TransferError that names where in the file the value is (``integrations[0].role_arn``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jmespath
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from bedrock import arns, endpoints, invoke, policies, rules
from bedrock.values import InvalidValue
from integrations.fallbacks import MAX_FALLBACKS
from integrations.models import BedrockModel, Provider, check_api_name
from prompts_library import rendering
from prompts_library.export_file import FORMAT, VERSION
from prompts_library.models import Feature, Prompt, PromptVersion


class TransferError(ValueError):
    """The file cannot be imported; nothing was written."""


def load(text: str | bytes) -> dict[str, Any]:
    """The JSON of an export file; raises TransferError if it is not JSON."""
    try:
        data = rules.parse_json(text, "file")
    except InvalidValue as e:
        raise TransferError(str(e)) from None
    if not isinstance(data, dict):
        raise TransferError("The file is not a Bedrock Console export (not a JSON object).")
    return data


@functools.cache
def _max_length(model: type[models.Model], name: str) -> int:
    """The limit of a text field the import fills: the model's own, as the forms have it."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.CharField) or field.max_length is None:
        raise TypeError(f"{model.__name__}.{name} is not a text field with a limit")
    return field.max_length


def _fail(where: str, message: str) -> TransferError:
    return TransferError(f"{where}: {message}")


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "must be a JSON object.")
    return value


def _list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    if key not in data:
        raise _fail(where, f'the "{key}" list is missing.')
    value = data[key]
    if not isinstance(value, list):
        raise _fail(f"{where}.{key}", "must be a list.")
    return value


def _text(
    data: dict[str, Any],
    key: str,
    where: str,
    *,
    max_length: int | None = None,
    required: bool = True,
    blank: bool = False,
) -> str:
    if key not in data:
        if required:
            raise _fail(where, f'the field "{key}" is missing.')
        return ""
    value = data[key]
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _fail(f"{where}.{key}", "must be text.")
    value = value.strip()
    if not value and not blank:
        raise _fail(f"{where}.{key}", "must not be empty.")
    if max_length is not None and len(value) > max_length:
        raise _fail(f"{where}.{key}", f"must be at most {max_length} characters.")
    return value


def _check(where: str, parse: Any, value: Any) -> Any:
    try:
        return parse(value)
    except InvalidValue as e:
        raise _fail(where, str(e)) from None


def _jmespath(value: str, where: str) -> str:
    if value:
        try:
            jmespath.compile(value)
        except jmespath.exceptions.JMESPathError as e:
            raise _fail(where, f"not valid JMESPath: {e}") from None
    return value


def integration_key(provider: str, name: str) -> tuple[str, str]:
    return (provider.lower(), name.lower())


@dataclass(frozen=True)
class HeaderIn:
    name: str
    secret: bool
    value: str = ""


@dataclass(frozen=True)
class IntegrationIn:
    provider: str
    name: str
    role_arn: str
    sts_endpoint: str
    external_id: str
    model_id: str
    endpoint: str
    request_json: str
    headers: tuple[HeaderIn, ...]
    request_format: str = invoke.INVOKE_MODEL
    api_name: str = ""  # files from before API model names: derived on import

    @property
    def label(self) -> str:
        return f"{self.provider} / {self.name}"


@dataclass(frozen=True)
class VersionIn:
    number: int
    request_template: str
    response_path: str
    input_tokens_path: str
    output_tokens_path: str
    samples: dict[str, str]
    change_note: str
    author: str
    created: datetime | None

    def same_content(self, v: PromptVersion) -> bool:
        return (
            v.request_template == self.request_template
            and v.response_path == self.response_path
            and v.input_tokens_path == self.input_tokens_path
            and v.output_tokens_path == self.output_tokens_path
        )


@dataclass(frozen=True)
class PromptIn:
    name: str
    slug: str
    integration: tuple[str, str]
    feature: str
    published_version: int | None
    versions: tuple[VersionIn, ...]
    # The prompt's own chain, in order, as (provider, name); None: the file does not say (a file
    # from before chains travelled), so a prompt already here keeps its chain.
    fallbacks: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True)
class Parsed:
    providers: dict[str, tuple[str, str]]  # lower name -> (name, external id)
    integrations: tuple[IntegrationIn, ...]
    features: tuple[str, ...]
    prompts: tuple[PromptIn, ...]


def _parse_headers(data: dict[str, Any], where: str) -> tuple[HeaderIn, ...]:
    rows = data.get("headers", [])
    if not isinstance(rows, list):
        raise _fail(f"{where}.headers", "must be a list.")
    _check(f"{where}.headers", rules.check_header_count, len(rows))
    out: list[HeaderIn] = []
    seen: set[str] = set()
    for n, row in enumerate(rows):
        here = f"{where}.headers[{n}]"
        row = _obj(row, here)
        name = _check(
            f"{here}.name", lambda v: rules.unique_header_name(v, seen), _text(row, "name", here)
        )
        secret = row.get("secret", False)
        if not isinstance(secret, bool):
            raise _fail(f"{here}.secret", "must be true or false.")
        if secret:
            if "value" in row or "ciphertext" in row:
                raise _fail(here, "a secret header must not carry a value in an export file.")
            out.append(HeaderIn(name, True))
        else:
            value = _check(f"{here}.value", rules.header_value, row.get("value"))
            out.append(HeaderIn(name, False, value))
    return tuple(out)


def _parse_integration(data: Any, where: str) -> IntegrationIn:
    data = _obj(data, where)
    extra = settings.EXTRA_AWS_ENDPOINTS

    def sts(value: str) -> str:
        return endpoints.check_endpoint(endpoints.normalise_sts_url(value), "sts", extra).url

    request_json = _check(
        f"{where}.request_json", rules.request_json, _text(data, "request_json", where)
    )
    return IntegrationIn(
        provider=_text(data, "provider", where, max_length=_max_length(Provider, "name")),
        name=_text(data, "name", where, max_length=_max_length(BedrockModel, "name")),
        role_arn=_check(
            f"{where}.role_arn", arns.parse_role_arn, _text(data, "role_arn", where)
        ).arn,
        sts_endpoint=_check(f"{where}.sts_endpoint", sts, _text(data, "sts_endpoint", where)),
        external_id=_check(
            f"{where}.external_id", policies.validate_external_id, _text(data, "external_id", where)
        ),
        model_id=_check(
            f"{where}.model_id", arns.parse_model_id, _text(data, "model_id", where)
        ).model_id,
        endpoint=_check(
            f"{where}.endpoint",
            lambda v: endpoints.check_endpoint(v, "bedrock-runtime", extra).url,
            _text(data, "endpoint", where),
        ),
        request_json=request_json,
        headers=_parse_headers(data, where),
        request_format=_request_format(data, request_json, where),
        api_name=_check(
            f"{where}.api_name",
            check_api_name,
            _text(data, "api_name", where, required=False, blank=True),
        ),
    )


def _request_format(data: dict[str, Any], request_json: str, where: str) -> str:
    """The integration's request format (files from before it existed: InvokeModel)."""
    value = data.get("request_format", invoke.INVOKE_MODEL)
    if value not in invoke.FORMATS:
        raise _fail(f"{where}.request_format", f"must be one of {', '.join(invoke.FORMATS)}.")
    if value == invoke.CONVERSE:
        _check(
            f"{where}.request_json",
            lambda text: rules.converse_request(rules.parse_json(text, "Request JSON")),
            request_json,
        )
    return str(value)


def _parse_version(data: Any, where: str) -> VersionIn:
    data = _obj(data, where)
    number = data.get("number")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise _fail(f"{where}.number", "must be a whole number from 1.")
    template = data.get("request_template")
    if not isinstance(template, str) or not template.strip():
        raise _fail(f"{where}.request_template", "must be non-empty text.")
    template = template.strip()
    _check(f"{where}.request_template", rules.check_request_size, template)
    try:
        rendering.parse(template)
    except rendering.RenderError as e:
        raise _fail(f"{where}.request_template", e.message) from None
    variables = rendering.find_variables(template)
    samples = data.get("samples") or {}
    if not isinstance(samples, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in samples.items()
    ):
        raise _fail(f"{where}.samples", "must be an object of text values.")
    created = None
    if data.get("created") is not None:
        raw = data["created"]
        created = parse_datetime(raw) if isinstance(raw, str) else None
        if created is None:
            raise _fail(f"{where}.created", "must be an ISO 8601 date and time.")
        if timezone.is_naive(created):
            created = timezone.make_aware(created, UTC)
    author = data.get("author") or ""
    if not isinstance(author, str):
        raise _fail(f"{where}.author", "must be a username or null.")
    return VersionIn(
        number=number,
        request_template=template,
        response_path=_jmespath(
            _text(
                data, "response_path", where, max_length=_max_length(PromptVersion, "response_path")
            ),
            f"{where}.response_path",
        ),
        input_tokens_path=_jmespath(
            _text(
                data,
                "input_tokens_path",
                where,
                max_length=_max_length(PromptVersion, "input_tokens_path"),
                required=False,
                blank=True,
            ),
            f"{where}.input_tokens_path",
        ),
        output_tokens_path=_jmespath(
            _text(
                data,
                "output_tokens_path",
                where,
                max_length=_max_length(PromptVersion, "output_tokens_path"),
                required=False,
                blank=True,
            ),
            f"{where}.output_tokens_path",
        ),
        samples={k: v for k, v in samples.items() if k in variables},
        change_note=_text(
            data,
            "change_note",
            where,
            max_length=_max_length(PromptVersion, "change_note"),
            required=False,
            blank=True,
        ),
        author=author,
        created=created,
    )


def _reference(data: Any, where: str) -> tuple[str, str]:
    """An integration named as the export names it: its provider and its model name."""
    ref = _obj(data, where)
    return (
        _text(ref, "provider", where, max_length=_max_length(Provider, "name")),
        _text(ref, "name", where, max_length=_max_length(BedrockModel, "name")),
    )


def _parse_fallbacks(data: dict[str, Any], where: str) -> tuple[tuple[str, str], ...] | None:
    if data.get("fallbacks") is None:
        return None
    rows = _list(data, "fallbacks", where)
    if len(rows) > MAX_FALLBACKS:
        raise _fail(f"{where}.fallbacks", f"a chain holds at most {MAX_FALLBACKS} fallbacks.")
    chain: list[tuple[str, str]] = []
    for n, row in enumerate(rows):
        ref = _reference(row, f"{where}.fallbacks[{n}]")
        if integration_key(*ref) in {integration_key(*m) for m in chain}:
            raise _fail(f"{where}.fallbacks[{n}]", f"{ref[0]} / {ref[1]} is listed twice.")
        chain.append(ref)
    return tuple(chain)


def _parse_prompt(data: Any, where: str) -> PromptIn:
    data = _obj(data, where)
    slug = _text(data, "slug", where, max_length=_max_length(Prompt, "slug"))
    try:
        validate_slug(slug)
    except ValidationError:
        raise _fail(f"{where}.slug", "must be letters, digits, hyphens and underscores.") from None
    if slug.isdigit():
        raise _fail(f"{where}.slug", "must not be only digits (it would read as a prompt id).")
    versions_raw = _list(data, "versions", where)
    if not versions_raw:
        raise _fail(f"{where}.versions", "a prompt needs at least one version.")
    versions = tuple(
        _parse_version(v, f"{where}.versions[{n}]") for n, v in enumerate(versions_raw)
    )
    numbers = [v.number for v in versions]
    if len(set(numbers)) != len(numbers):
        raise _fail(f"{where}.versions", "a version number is listed twice.")
    published = data.get("published_version")
    if published is not None and (
        isinstance(published, bool) or not isinstance(published, int) or published not in numbers
    ):
        raise _fail(f"{where}.published_version", "must be null or one of the versions' numbers.")
    return PromptIn(
        name=_text(data, "name", where, max_length=_max_length(Prompt, "name")),
        slug=slug,
        integration=_reference(data.get("integration"), f"{where}.integration"),
        feature=_text(data, "feature", where, max_length=_max_length(Feature, "name")),
        published_version=published,
        versions=tuple(sorted(versions, key=lambda v: v.number)),
        fallbacks=_parse_fallbacks(data, where),
    )


def _known(in_file: set[tuple[str, str]], ref: tuple[str, str], where: str, what: str) -> None:
    """Refuse a reference to an integration neither in the file nor in this console."""
    if (
        integration_key(*ref) not in in_file
        and not BedrockModel.objects.filter(
            provider__name__iexact=ref[0], name__iexact=ref[1]
        ).exists()
    ):
        raise _fail(
            where, f"{what} {ref[0]} / {ref[1]} is neither in the file nor in this console."
        )


def parse(data: Any) -> Parsed:
    """Check the whole file before anything is written; raises TransferError."""
    if not isinstance(data, dict):
        raise TransferError("The file is not a Bedrock Console export (not a JSON object).")
    if data.get("format") != FORMAT:
        raise TransferError(
            f'The file is not a Bedrock Console export (its "format" is not "{FORMAT}").'
        )
    if data.get("version") != VERSION:
        raise TransferError(
            f"This console reads export version {VERSION}, not {data.get('version')!r}."
        )
    providers: dict[str, tuple[str, str]] = {}
    for n, row in enumerate(_list(data, "providers", "file")):
        where = f"providers[{n}]"
        row = _obj(row, where)
        name = _text(row, "name", where, max_length=_max_length(Provider, "name"))
        ext = _check(
            f"{where}.external_id", policies.validate_external_id, _text(row, "external_id", where)
        )
        if name.lower() in providers:
            raise _fail(where, f"the provider {name} is listed twice.")
        providers[name.lower()] = (name, ext)
    integrations = tuple(
        _parse_integration(row, f"integrations[{n}]")
        for n, row in enumerate(_list(data, "integrations", "file"))
    )
    keys = [integration_key(i.provider, i.name) for i in integrations]
    if len(set(keys)) != len(keys):
        raise TransferError(
            "integrations: an integration (provider and model name) is listed twice."
        )
    features: list[str] = []
    for n, row in enumerate(_list(data, "features", "file")):
        name = _text(
            _obj(row, f"features[{n}]"),
            "name",
            f"features[{n}]",
            max_length=_max_length(Feature, "name"),
        )
        if name.lower() in {f.lower() for f in features}:
            raise _fail(f"features[{n}]", f"the feature {name} is listed twice.")
        features.append(name)
    prompts = tuple(
        _parse_prompt(row, f"prompts[{n}]") for n, row in enumerate(_list(data, "prompts", "file"))
    )
    slugs = [p.slug for p in prompts]
    if len(set(slugs)) != len(slugs):
        raise TransferError("prompts: a slug is listed twice.")
    known = set(keys)
    for n, p in enumerate(prompts):
        _known(known, p.integration, f"prompts[{n}].integration", "the integration")
        for k, ref in enumerate(p.fallbacks or ()):
            where = f"prompts[{n}].fallbacks[{k}]"
            if integration_key(*ref) == integration_key(*p.integration):
                raise _fail(where, f"the prompt {p.slug} cannot fall back to its own integration.")
            _known(known, ref, where, f"the prompt {p.slug}'s fallback")
    return Parsed(providers, integrations, tuple(features), prompts)
