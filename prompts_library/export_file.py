"""Export prompts (with their versions) and integrations to a JSON file.

Secret header values never leave the database: an export lists a secret header by name only.
"""

from __future__ import annotations

import json
from typing import Any

from django.utils import timezone

from integrations.models import BedrockModel, Provider
from prompts_library.fallbacks import own_chain
from prompts_library.models import Feature, Prompt, PromptVersion

FORMAT = "bedrock-console-export"
VERSION = 1


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
        .prefetch_related("versions__author", "fallback_links__fallback__provider")
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
                "api_name": i.api_name,
                "role_arn": i.role_arn,
                "sts_endpoint": i.sts_endpoint,
                "external_id": i.external_id,
                "model_id": i.model_id,
                "endpoint": i.endpoint,
                "request_json": i.request_json,
                "request_format": i.request_format,
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
                # The prompt's own chain, in order, named as its integration is (empty: it uses
                # its integration's chain).
                "fallbacks": [{"provider": m.provider.name, "name": m.name} for m in own_chain(p)],
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


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
