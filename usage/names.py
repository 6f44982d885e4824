"""Names for the ids that rollups and records hold: one query per kind of thing, whatever the
number of rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from integrations.models import BedrockModel
from prompts_library.models import ApiToken, Prompt, PromptVersion
from usage.models import CallRecord
from usage.stats import Sums

Rows = list[tuple[tuple[Any, ...], Sums]]


@dataclass
class Labels:
    integrations: dict[int, str]
    prompts: dict[int, str]
    versions: dict[int, int]
    tokens: dict[int, str]


def _integrations(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = BedrockModel.objects.filter(pk__in=ids).select_related("provider")
    return {m.pk: str(m) for m in rows}


def _prompts(ids: set[int]) -> dict[int, str]:
    return dict(Prompt.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}


def _versions(ids: set[int]) -> dict[int, int]:
    if not ids:
        return {}
    return dict(PromptVersion.objects.filter(pk__in=ids).values_list("pk", "number"))


def _tokens(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {t.pk: str(t) for t in ApiToken.objects.filter(pk__in=ids).only("name", "prefix")}


def lookup(tables: dict[str, Rows]) -> Labels:
    def ids(table: str, index: int = 0) -> set[int]:
        return {key[index] for key, _ in tables[table] if key[index]}

    return Labels(
        _integrations(ids("integration")),
        _prompts(ids("prompt")),
        _versions(ids("prompt", 1)),
        _tokens(ids("token")),
    )


@dataclass
class Row:
    name: str
    url: str | None
    sums: Sums


def rows(tables: dict[str, Rows], labels: Labels, range_key: str) -> dict[str, list[Row]]:
    suffix = "?" + urlencode({"range": range_key})

    def url(name: str, *args: Any) -> str:
        return reverse(f"usage:{name}", args=args) + suffix

    out: dict[str, list[Row]] = {}
    out["integration"] = [
        Row(labels.integrations.get(i, f"Integration #{i}"), url("integration", i), s)
        if i
        else Row("None", None, s)
        for (i,), s in tables["integration"]
    ]
    out["prompt"] = [
        Row(
            f"{labels.prompts.get(p, f'Prompt #{p}')}"
            + (f" v{labels.versions[v]}" if v in labels.versions else " (draft)" if not v else ""),
            url("prompt", p),
            s,
        )
        if p
        else Row("No prompt (connection tests)", None, s)
        for (p, v), s in tables["prompt"]
    ]
    out["feature"] = [
        Row(f, reverse("usage:feature", args=[f]) + suffix, s) if f else Row("None", None, s)
        for (f,), s in tables["feature"]
    ]
    out["token"] = [
        Row(labels.tokens.get(t, f"Token #{t}"), url("token", t), s)
        if t
        else Row("No token (console)", None, s)
        for (t,), s in tables["token"]
    ]
    return out


@dataclass
class Call:
    record: CallRecord
    integration: str
    prompt: str
    version: int | None
    token: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.record, name)


def calls(records: list[CallRecord]) -> list[Call]:
    labels = Labels(
        _integrations({r.integration_id for r in records if r.integration_id}),
        _prompts({r.prompt_id for r in records if r.prompt_id}),
        _versions({r.version_id for r in records if r.version_id}),
        _tokens({r.token_id for r in records if r.token_id}),
    )
    return [
        Call(
            r,
            labels.integrations.get(r.integration_id, "") if r.integration_id else "",
            labels.prompts.get(r.prompt_id, "") if r.prompt_id else "",
            labels.versions.get(r.version_id) if r.version_id else None,
            labels.tokens.get(r.token_id, "") if r.token_id else "",
        )
        for r in records
    ]


def filter_choices() -> dict[str, list[tuple[int, str]]]:
    return {
        "integration": [
            (m.pk, str(m))
            for m in BedrockModel.objects.select_related("provider").only("name", "provider__name")
        ],
        "prompt": list(Prompt.objects.values_list("pk", "name")),
        "token": [(t.pk, str(t)) for t in ApiToken.objects.only("name", "prefix")],
    }
