"""Import an export file into the console: in one transaction, all or nothing.

The file is checked whole first (import_check). A secret header of the file keeps the stored
secret of an existing integration's header of the same name, or the report says it needs a value.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from audit import recorder
from integrations.fallbacks import ChainError, describe
from integrations.models import (
    BedrockModel,
    Configuration,
    Header,
    Provider,
    load_headers,
)
from prompts_library import apicache, services
from prompts_library import fallbacks as prompt_fallbacks
from prompts_library.import_check import (
    IntegrationIn,
    PromptIn,
    TransferError,
    VersionIn,
    integration_key,
    parse,
)
from prompts_library.import_report import Report
from prompts_library.models import Feature, Prompt, PromptVersion

log = logging.getLogger(__name__)


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


def _import_integration(item: IntegrationIn, provider: Provider, report: Report) -> BedrockModel:
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
        request_format=item.request_format,
    )
    fingerprint = config.fingerprint()
    values = {
        "role_arn": item.role_arn,
        "sts_endpoint": item.sts_endpoint,
        "external_id": item.external_id,
        "model_id": item.model_id,
        "endpoint": item.endpoint,
        "request_json": item.request_json,
        "request_format": item.request_format,
        "headers": rows,
    }
    if existing is None:
        # The file's API model name when it is free here (else one derived from the names);
        # an integration that exists keeps its own, which callers here already use.
        api_name = item.api_name
        if api_name and BedrockModel.objects.filter(api_name=api_name).exists():
            report.integrations.warnings.append(
                f"{item.label}: the API model name {api_name} is taken here; another was given."
            )
            api_name = ""
        obj = BedrockModel.objects.create(
            provider=provider, name=item.name, fingerprint=fingerprint, api_name=api_name, **values
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


def _create_version(prompt: Prompt, v: VersionIn, importer: Any) -> PromptVersion:
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
    item: PromptIn,
    integration: BedrockModel,
    feature: Feature,
    chain: list[BedrockModel] | None,
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
        if chain:
            prompt_fallbacks.set_chain(prompt, chain, importer)
        fallbacks = f", {len(chain)} fallback(s)" if chain else ""
        report.prompts.created.append(
            f"{item.name} ({item.slug}): {len(versions)} version(s){published}{fallbacks}"
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
    # A file that names no chain (from before chains travelled) leaves the prompt's as it is.
    if chain is not None and describe(prompt_fallbacks.own_chain(prompt)) != describe(chain):
        prompt_fallbacks.set_chain(prompt, chain, importer)
        changes.append("fallbacks")
    if item.published_version is not None:
        target = existing[item.published_version]
        if prompt.published_version_id != target.pk:
            services.publish(prompt, target)
            changes.append(f"published v{item.published_version}")
    if changes:
        report.prompts.updated.append(f"{prompt.name} ({prompt.slug}): " + "; ".join(changes))
    else:
        report.prompts.skipped.append(f"{prompt.name} ({prompt.slug})")


def _integration(
    ref: tuple[str, str], imported: dict[tuple[str, str], BedrockModel]
) -> BedrockModel:
    """An integration the file names (import_check made sure it is in the file or here)."""
    found = imported.get(integration_key(*ref))
    if found is not None:
        return found
    return BedrockModel.objects.select_related("provider").get(
        provider__name__iexact=ref[0], name__iexact=ref[1]
    )


def _chain(
    n: int,
    item: PromptIn,
    integration: BedrockModel,
    imported: dict[tuple[str, str], BedrockModel],
) -> list[BedrockModel] | None:
    """The prompt's chain from the file, checked by the rules of its fallbacks page (raised
    inside the import's transaction: nothing is written)."""
    if item.fallbacks is None:
        return None
    chain = [_integration(ref, imported) for ref in item.fallbacks]
    try:
        prompt_fallbacks.check(integration, chain)
    except ChainError as e:
        where = f"prompts[{n}].fallbacks"
        if e.position is not None and e.position < len(chain):
            where += f"[{e.position}]"
        raise TransferError(f"{where}: the prompt {item.slug}'s chain: {e.message}") from None
    return chain


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
            integrations[integration_key(item.provider, item.name)] = _import_integration(
                item, provider, report
            )
        features: dict[str, Feature] = {}
        for name in parsed.features:
            _feature(name, report, features)
        for n, prompt_in in enumerate(parsed.prompts):
            integration = _integration(prompt_in.integration, integrations)
            chain = _chain(n, prompt_in, integration, integrations)
            feature = _feature(prompt_in.feature, report, features)
            _import_prompt(prompt_in, integration, feature, chain, report, user)
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
