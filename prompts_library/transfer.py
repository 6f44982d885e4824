"""Export prompts (with their versions) and integrations to JSON, and import them back.

Secret header values never leave the database: an export lists a secret header by name only,
and an import keeps the stored secret of an existing integration's header of the same name, or
reports that the header needs a value. An import runs in one transaction: all or nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jmespath
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit import recorder
from bedrock import arns, endpoints, policies, rules
from bedrock.values import InvalidValue
from integrations.models import (
    BedrockModel,
    Configuration,
    Header,
    Provider,
    load_headers,
)
from prompts_library import apicache, rendering, services
from prompts_library.models import Feature, Prompt, PromptVersion

log = logging.getLogger(__name__)

FORMAT = "bedrock-console-export"
VERSION = 1


class TransferError(ValueError):
    """The file cannot be imported; nothing was written."""


# --- export -------------------------------------------------------------------------------


def _export_headers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows or []:
        if row.get("secret"):
            out.append({"name": row["name"], "secret": True})
        else:
            out.append({"name": row["name"], "secret": False, "value": row.get("value", "")})
    return out


def _origin(v: PromptVersion) -> dict[str, Any]:
    """Who wrote the version and when: for an imported version, what its file said."""
    if v.imported:
        author = v.original_author or None
    else:
        author = v.author.get_username() if v.author else None
    return {"author": author, "created": (v.original_created or v.created).isoformat()}


def export_data() -> dict[str, Any]:
    integrations = BedrockModel.objects.select_related("provider").order_by(
        "provider__name", "name"
    )
    prompts = (
        Prompt.objects.select_related("integration__provider", "feature", "published_version")
        .prefetch_related("versions__author")
        .order_by("slug")
    )
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "providers": [
            {"name": p.name, "external_id": p.external_id}
            for p in Provider.objects.order_by("name")
        ],
        "integrations": [
            {
                "provider": i.provider.name,
                "name": i.name,
                "role_arn": i.role_arn,
                "sts_endpoint": i.sts_endpoint,
                "external_id": i.external_id,
                "model_id": i.model_id,
                "endpoint": i.endpoint,
                "request_json": i.request_json,
                "headers": _export_headers(i.headers),
            }
            for i in integrations
        ],
        "features": [{"name": f.name} for f in Feature.objects.order_by("name")],
        "prompts": [
            {
                "name": p.name,
                "slug": p.slug,
                "integration": {
                    "provider": p.integration.provider.name,
                    "name": p.integration.name,
                },
                "feature": p.feature.name,
                "published_version": p.published_version.number if p.published_version else None,
                "versions": [
                    {
                        "number": v.number,
                        "request_template": v.request_template,
                        "response_path": v.response_path,
                        "input_tokens_path": v.input_tokens_path,
                        "output_tokens_path": v.output_tokens_path,
                        "samples": v.samples or {},
                        "change_note": v.change_note,
                        **_origin(v),
                    }
                    for v in sorted(p.versions.all(), key=lambda v: v.number)
                ],
            }
            for p in prompts
        ],
    }


# --- the report ---------------------------------------------------------------------------

KINDS = ("providers", "integrations", "features", "prompts")


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Report:
    dry_run: bool = False
    providers: Outcome = field(default_factory=Outcome)
    integrations: Outcome = field(default_factory=Outcome)
    features: Outcome = field(default_factory=Outcome)
    prompts: Outcome = field(default_factory=Outcome)

    def sections(self) -> list[tuple[str, Outcome]]:
        return [(kind, getattr(self, kind)) for kind in KINDS]

    @property
    def warnings(self) -> list[str]:
        return [w for _, o in self.sections() for w in o.warnings]

    def summary(self) -> str:
        parts = []
        for kind, o in self.sections():
            parts.append(
                f"{kind}: {len(o.created)} created, {len(o.updated)} updated, "
                f"{len(o.skipped)} skipped"
            )
        head = "Dry run, nothing was written. " if self.dry_run else ""
        return head + "; ".join(parts) + "."

    def lines(self) -> list[str]:
        out = [self.summary()]
        for kind, o in self.sections():
            for verb, items in (
                ("Created", o.created),
                ("Updated", o.updated),
                ("Skipped", o.skipped),
            ):
                out.extend(f"{verb} {kind[:-1]}: {item}" for item in items)
            out.extend(f"Warning ({kind[:-1]}): {w}" for w in o.warnings)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


# --- validation ---------------------------------------------------------------------------


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


def _key(provider: str, name: str) -> tuple[str, str]:
    return (provider.lower(), name.lower())


@dataclass(frozen=True)
class _HeaderIn:
    name: str
    secret: bool
    value: str = ""


@dataclass(frozen=True)
class _IntegrationIn:
    provider: str
    name: str
    role_arn: str
    sts_endpoint: str
    external_id: str
    model_id: str
    endpoint: str
    request_json: str
    headers: tuple[_HeaderIn, ...]

    @property
    def label(self) -> str:
        return f"{self.provider} / {self.name}"


@dataclass(frozen=True)
class _VersionIn:
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
class _PromptIn:
    name: str
    slug: str
    integration: tuple[str, str]
    feature: str
    published_version: int | None
    versions: tuple[_VersionIn, ...]


@dataclass(frozen=True)
class _Parsed:
    providers: dict[str, tuple[str, str]]  # lower name -> (name, external id)
    integrations: tuple[_IntegrationIn, ...]
    features: tuple[str, ...]
    prompts: tuple[_PromptIn, ...]


def _parse_headers(data: dict[str, Any], where: str) -> tuple[_HeaderIn, ...]:
    rows = data.get("headers", [])
    if not isinstance(rows, list):
        raise _fail(f"{where}.headers", "must be a list.")
    _check(f"{where}.headers", rules.check_header_count, len(rows))
    out: list[_HeaderIn] = []
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
            out.append(_HeaderIn(name, True))
        else:
            value = _check(f"{here}.value", rules.header_value, row.get("value"))
            out.append(_HeaderIn(name, False, value))
    return tuple(out)


def _parse_integration(data: Any, where: str) -> _IntegrationIn:
    data = _obj(data, where)
    extra = settings.EXTRA_AWS_ENDPOINTS

    def sts(value: str) -> str:
        return endpoints.check_endpoint(endpoints.normalise_sts_url(value), "sts", extra).url

    request_json = _check(
        f"{where}.request_json", rules.request_json, _text(data, "request_json", where)
    )
    return _IntegrationIn(
        provider=_text(data, "provider", where, max_length=100),
        name=_text(data, "name", where, max_length=100),
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
    )


def _parse_version(data: Any, where: str) -> _VersionIn:
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
    return _VersionIn(
        number=number,
        request_template=template,
        response_path=_jmespath(
            _text(data, "response_path", where, max_length=1000), f"{where}.response_path"
        ),
        input_tokens_path=_jmespath(
            _text(data, "input_tokens_path", where, max_length=1000, required=False, blank=True),
            f"{where}.input_tokens_path",
        ),
        output_tokens_path=_jmespath(
            _text(data, "output_tokens_path", where, max_length=1000, required=False, blank=True),
            f"{where}.output_tokens_path",
        ),
        samples={k: v for k, v in samples.items() if k in variables},
        change_note=_text(data, "change_note", where, max_length=500, required=False, blank=True),
        author=author,
        created=created,
    )


def _parse_prompt(data: Any, where: str) -> _PromptIn:
    data = _obj(data, where)
    slug = _text(data, "slug", where, max_length=220)
    try:
        validate_slug(slug)
    except ValidationError:
        raise _fail(f"{where}.slug", "must be letters, digits, hyphens and underscores.") from None
    if slug.isdigit():
        raise _fail(f"{where}.slug", "must not be only digits (it would read as a prompt id).")
    ref = _obj(data.get("integration"), f"{where}.integration")
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
    return _PromptIn(
        name=_text(data, "name", where, max_length=200),
        slug=slug,
        integration=(
            _text(ref, "provider", f"{where}.integration", max_length=100),
            _text(ref, "name", f"{where}.integration", max_length=100),
        ),
        feature=_text(data, "feature", where, max_length=100),
        published_version=published,
        versions=tuple(sorted(versions, key=lambda v: v.number)),
    )


def parse(data: Any) -> _Parsed:
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
        name = _text(row, "name", where, max_length=100)
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
    keys = [_key(i.provider, i.name) for i in integrations]
    if len(set(keys)) != len(keys):
        raise TransferError(
            "integrations: an integration (provider and model name) is listed twice."
        )
    features: list[str] = []
    for n, row in enumerate(_list(data, "features", "file")):
        name = _text(_obj(row, f"features[{n}]"), "name", f"features[{n}]", max_length=100)
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
        key = _key(*p.integration)
        if (
            key not in known
            and not BedrockModel.objects.filter(
                provider__name__iexact=p.integration[0], name__iexact=p.integration[1]
            ).exists()
        ):
            raise _fail(
                f"prompts[{n}].integration",
                f"the integration {p.integration[0]} / {p.integration[1]} is neither in the file "
                "nor in this console.",
            )
    return _Parsed(providers, integrations, tuple(features), prompts)


# --- import -------------------------------------------------------------------------------


def _provider(name: str, external_id: str, report: Report, seen: set[str]) -> Provider:
    provider = Provider.objects.filter(name__iexact=name).first()
    if provider is None:
        provider = Provider.objects.create(name=name, external_id=external_id)
        recorder.record_create(provider)
        report.providers.created.append(name)
    elif name.lower() not in seen:
        if provider.external_id != external_id:
            before = recorder.snapshot(provider)
            provider.external_id = external_id
            provider.save(update_fields=["external_id"])
            recorder.record_update(provider, before)
            report.providers.updated.append(f"{provider.name}: external ID")
        else:
            report.providers.skipped.append(provider.name)
    seen.add(name.lower())
    return provider


def _import_integration(item: _IntegrationIn, provider: Provider, report: Report) -> BedrockModel:
    existing = BedrockModel.objects.filter(provider=provider, name__iexact=item.name).first()
    stored = {
        row["name"].lower(): row
        for row in (existing.headers if existing else [])
        if row.get("secret")
    }
    headers: list[Header] = []
    rows: list[dict[str, Any]] = []
    for h in item.headers:
        if not h.secret:
            headers.append(Header(h.name, h.value, False))
            rows.append({"name": h.name, "secret": False, "value": h.value})
        elif h.name.lower() in stored:
            row = dict(stored[h.name.lower()], name=h.name)
            headers.append(load_headers([row])[0])
            rows.append(row)
        else:
            report.integrations.warnings.append(
                f"{item.label}: the secret header {h.name} needs a value; "
                "set it on the integration's page (it was left out)."
            )
    config = Configuration(
        role_arn=item.role_arn,
        sts_endpoint=item.sts_endpoint,
        external_id=item.external_id,
        model_id=item.model_id,
        endpoint=item.endpoint,
        headers=tuple(headers),
        request_json=item.request_json,
    )
    fingerprint = config.fingerprint()
    values = {
        "role_arn": item.role_arn,
        "sts_endpoint": item.sts_endpoint,
        "external_id": item.external_id,
        "model_id": item.model_id,
        "endpoint": item.endpoint,
        "request_json": item.request_json,
        "headers": rows,
    }
    if existing is None:
        obj = BedrockModel.objects.create(
            provider=provider, name=item.name, fingerprint=fingerprint, **values
        )
        recorder.record_create(obj)
        report.integrations.created.append(f"{item.label} (Unverified: run a Test)")
        return obj
    changed = [k for k, v in values.items() if getattr(existing, k) != v]
    if existing.configuration().fingerprint() == fingerprint and not changed:
        report.integrations.skipped.append(str(existing))
        return existing
    before = recorder.snapshot(existing)
    for k, v in values.items():
        setattr(existing, k, v)
    # The configuration changed: it is Unverified until a Test of this fingerprint succeeds.
    existing.fingerprint = fingerprint
    existing.save()
    recorder.record_update(existing, before)
    fields = ", ".join(k.replace("_", " ") for k in changed) or "configuration"
    report.integrations.updated.append(f"{existing} ({fields}; Unverified: run a Test)")
    return existing


def _feature(name: str, report: Report, seen: dict[str, Feature]) -> Feature:
    if name.lower() in seen:
        return seen[name.lower()]
    feature = Feature.objects.filter(name__iexact=name).first()
    if feature is None:
        feature = Feature.objects.create(name=name)
        recorder.record_create(feature)
        report.features.created.append(name)
    else:
        report.features.skipped.append(feature.name)
    seen[name.lower()] = feature
    return feature


def _create_version(prompt: Prompt, v: _VersionIn, importer: Any) -> PromptVersion:
    """The version as the importer's, saved now; the file's author and date are kept beside
    it as information ("imported; originally ..."), never as its history here."""
    version = PromptVersion.objects.create(
        prompt=prompt,
        number=v.number,
        request_template=v.request_template,
        response_path=v.response_path,
        input_tokens_path=v.input_tokens_path,
        output_tokens_path=v.output_tokens_path,
        samples=v.samples,
        change_note=v.change_note,
        author=importer if getattr(importer, "is_authenticated", False) else None,
        imported=True,
        original_author=v.author[:150],
        original_created=v.created,
    )
    recorder.record_create(version)
    return version


def _import_prompt(
    item: _PromptIn,
    integration: BedrockModel,
    feature: Feature,
    report: Report,
    importer: Any,
) -> None:
    prompt = Prompt.objects.filter(slug=item.slug).first()
    if prompt is None:
        prompt = Prompt.objects.create(
            name=item.name, slug=item.slug, integration=integration, feature=feature
        )
        recorder.record_create(prompt)
        versions = {v.number: _create_version(prompt, v, importer) for v in item.versions}
        if item.published_version is not None:
            services.publish(prompt, versions[item.published_version])
        published = f", v{item.published_version} published" if item.published_version else ""
        report.prompts.created.append(
            f"{item.name} ({item.slug}): {len(versions)} version(s){published}"
        )
        return
    changes: list[str] = []
    before = recorder.snapshot(prompt)
    for attr, value, label in (
        ("name", item.name, "name"),
        ("integration_id", integration.pk, "model"),
        ("feature_id", feature.pk, "feature"),
    ):
        if getattr(prompt, attr) != value:
            setattr(prompt, attr, value)
            changes.append(label)
    existing = {v.number: v for v in prompt.versions.all()}
    added = []
    for v in item.versions:
        if v.number in existing:
            if not v.same_content(existing[v.number]):
                report.prompts.warnings.append(
                    f"{item.slug} v{v.number} differs from the file; versions never change, "
                    "so the console's version was kept."
                )
            continue
        existing[v.number] = _create_version(prompt, v, importer)
        added.append(f"v{v.number}")
    if added:
        changes.append("added " + ", ".join(added))
    if changes:
        prompt.save()
        recorder.record_update(prompt, before)
    if item.published_version is not None:
        target = existing[item.published_version]
        if prompt.published_version_id != target.pk:
            services.publish(prompt, target)
            changes.append(f"published v{item.published_version}")
    if changes:
        report.prompts.updated.append(f"{prompt.name} ({prompt.slug}): " + "; ".join(changes))
    else:
        report.prompts.skipped.append(f"{prompt.name} ({prompt.slug})")


def import_data(data: dict[str, Any], *, dry_run: bool = False, user: Any = None) -> Report:
    """Import an export file in one transaction. Raises TransferError; nothing is then written.

    With dry_run, the report says what would happen and the transaction is rolled back.
    """
    parsed = parse(data)
    report = Report(dry_run=dry_run)
    with transaction.atomic():
        seen_providers: set[str] = set()
        for name, external_id in parsed.providers.values():
            _provider(name, external_id, report, seen_providers)
        integrations: dict[tuple[str, str], BedrockModel] = {}
        for item in parsed.integrations:
            provider_name, ext = parsed.providers.get(
                item.provider.lower(), (item.provider, item.external_id)
            )
            provider = _provider(provider_name, ext, report, seen_providers)
            integrations[_key(item.provider, item.name)] = _import_integration(
                item, provider, report
            )
        features: dict[str, Feature] = {}
        for name in parsed.features:
            _feature(name, report, features)
        for prompt_in in parsed.prompts:
            integration = integrations.get(_key(*prompt_in.integration)) or (
                BedrockModel.objects.get(
                    provider__name__iexact=prompt_in.integration[0],
                    name__iexact=prompt_in.integration[1],
                )
            )
            feature = _feature(prompt_in.feature, report, features)
            _import_prompt(prompt_in, integration, feature, report, user)
        if dry_run:
            transaction.set_rollback(True)
        else:
            apicache.changed()
    log.info(
        "import by %s%s: %s",
        getattr(user, "username", None) or "command",
        " (dry run)" if dry_run else "",
        report.summary(),
    )
    return report


def load(text: str | bytes) -> dict[str, Any]:
    """The JSON of an export file; raises TransferError if it is not JSON."""
    try:
        data = rules.parse_json(text, "file")
    except InvalidValue as e:
        raise TransferError(str(e)) from None
    if not isinstance(data, dict):
        raise TransferError("The file is not a Bedrock Console export (not a JSON object).")
    return data


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
