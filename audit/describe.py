"""Audit events as a person reads them: kinds of object by their console names, each change as
field / before / after with names instead of ids, and links to the object's pages.

Nothing here is stored: the trail keeps what happened (model labels, ids, masked values) and is
hashed as such; this module only says it in words when the trail is read.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.db import models
from django.urls import NoReverseMatch, reverse

from audit.models import MASK, AuditEvent

Action = AuditEvent.Action


@dataclass(frozen=True)
class Kind:
    slug: str  # in URLs: ?kind=integration
    label: str  # the model label stored in AuditEvent.object_type
    name: str  # what the console calls it


# The kinds of object the product records events about, in the order a reviewer looks for them.
KINDS = (
    Kind("integration", "integrations.bedrockmodel", "Integration"),
    Kind("provider", "integrations.provider", "Provider"),
    Kind("connection-test", "integrations.connectiontest", "Connection test"),
    Kind("prompt", "prompts_library.prompt", "Prompt"),
    Kind("prompt-version", "prompts_library.promptversion", "Prompt version"),
    Kind("prompt-test", "prompts_library.prompttest", "Prompt test"),
    Kind("feature", "prompts_library.feature", "Feature"),
    Kind("api-token", "prompts_library.apitoken", "API token"),
    Kind("user", "auth.user", "User"),
    Kind("role", "auth.group", "Role"),
    Kind("encryption-keys", "integrations.crypto", "Encryption keys"),
    Kind("audit-trail", "audit.auditevent", "Audit trail"),
)
KIND_BY_SLUG = {k.slug: k for k in KINDS}
KIND_BY_LABEL = {k.label: k for k in KINDS}


def kind_name(object_type: str) -> str:
    kind = KIND_BY_LABEL.get(object_type)
    if kind is not None:
        return kind.name
    return object_type.rpartition(".")[2].replace("_", " ").capitalize() if object_type else ""


@functools.cache
def _model(object_type: str) -> type[models.Model] | None:
    try:
        return apps.get_model(object_type) if "." in object_type else None
    except (LookupError, ValueError):
        return None


# --- values as a person reads them ---------------------------------------------------------

SECRET_BEFORE = "(secret)"  # noqa: S105 (a label, not a secret)
SECRET_CHANGED = "changed (secret)"  # noqa: S105


def _is_mask(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(MASK)


def _header(row: Any) -> str:
    if isinstance(row, dict) and "name" in row:
        value = SECRET_BEFORE if row.get("secret") or _is_mask(row.get("value")) else row["value"]
        return f"{row['name']}: {value}"
    return _plain(row)


def _plain(value: Any) -> str:
    if value is None:
        return "none"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value == "":
        return "empty"
    if _is_mask(value):
        return SECRET_BEFORE
    if isinstance(value, list):
        return "; ".join(_header(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@dataclass
class Row:
    field: str
    before: str
    after: str


@dataclass
class Detail:
    field: str
    value: str


@dataclass
class Readable:
    """An event's changes in words: rows of field/before/after, and details of named actions."""

    rows: list[Row]
    details: list[Detail]


def _field(model: type[models.Model] | None, name: str) -> models.Field | None:
    if model is None:
        return None
    try:
        field = model._meta.get_field(name)
    except Exception:  # FieldDoesNotExist, or a name the model lost since
        return None
    return field if isinstance(field, models.Field) else None


def field_label(model: type[models.Model] | None, name: str) -> str:
    field = _field(model, name)
    label = str(field.verbose_name) if field is not None else name.replace("_", " ")
    return label[:1].upper() + label[1:]


def _in_model_order(model: type[models.Model] | None, changes: dict[str, Any]) -> list[str]:
    """The changed fields in the order the model declares them (JSON keys come back in any
    order: PostgreSQL's jsonb sorts them by length)."""
    order = _field_order(model)
    return sorted(changes, key=lambda name: (order.get(name, len(order)), name))


@functools.cache
def _field_order(model: type[models.Model] | None) -> dict[str, int]:
    return {f.name: i for i, f in enumerate(model._meta.get_fields())} if model else {}


def _names(model: type[models.Model], ids: set[Any]) -> dict[str, str]:
    """{str(pk): name} for the ids still present (one query)."""
    clean = {
        i for i in ids if isinstance(i, int) or (isinstance(i, str) and i.isascii() and i.isdigit())
    }
    if not clean:
        return {}
    # Names often include a parent's (an integration's provider, a version's prompt): join them.
    parents = [f.name for f in model._meta.concrete_fields if f.is_relation and not f.null]
    rows = model._base_manager.filter(pk__in=clean)
    if parents:
        rows = rows.select_related(*parents)
    return {str(obj.pk): str(obj) for obj in rows}


def _choices(field: models.Field | None) -> dict[Any, str]:
    return {k: str(v) for k, v in (field.flatchoices if field is not None else ())}


def readable(event: AuditEvent) -> Readable:
    """The event's changes in words. Queries: one per kind of object its ids refer to."""
    model = _model(event.object_type)
    changes = event.changes if isinstance(event.changes, dict) else {}
    changes = {name: changes[name] for name in _in_model_order(model, changes)}
    if event.action == Action.PUBLISH and "version" in changes:
        return Readable(
            [
                Row(
                    "Published version",
                    _version(changes.get("previous_version")),
                    _version(changes["version"]),
                )
            ],
            [
                Detail(field_label(None, k), _plain(v))
                for k, v in changes.items()
                if k not in ("version", "previous_version")
            ],
        )
    diffs = {k: v for k, v in changes.items() if isinstance(v, list) and len(v) == 2}
    links = {
        k: v for k, v in changes.items() if isinstance(v, dict) and set(v) <= {"add", "remove"}
    }
    # Ids of related objects, fetched once per related model.
    wanted: dict[type[models.Model], set[Any]] = {}
    for name, pair in diffs.items():
        field = _field(model, name)
        # Keys to one object; many-to-many links are recorded by name already.
        if field is not None and field.related_model and (field.many_to_one or field.one_to_one):
            ids = (v for v in pair if isinstance(v, (int, str)))
            wanted.setdefault(field.related_model, set()).update(ids)
    names = {m: _names(m, ids) for m, ids in wanted.items()}

    def shown(name: str, value: Any, after: bool) -> str:
        field = _field(model, name)
        if _is_mask(value):
            return SECRET_CHANGED if after else SECRET_BEFORE
        if value is not None and field is not None:
            if isinstance(value, (int, str)) and field.related_model in names:
                found = names[field.related_model].get(str(value))
                return found if found is not None else f"#{value} (since deleted)"
            choices = _choices(field)
            if isinstance(value, (str, int)) and value in choices:
                return choices[value]
        return _plain(value)

    rows = [
        Row(field_label(model, name), shown(name, old, False), shown(name, new, True))
        for name, (old, new) in diffs.items()
    ]
    for name, verbs in links.items():
        removed, added = verbs.get("remove") or [], verbs.get("add") or []
        rows.append(
            Row(
                field_label(model, name),
                ("removed: " + ", ".join(map(str, removed))) if removed else "",
                ("added: " + ", ".join(map(str, added))) if added else "",
            )
        )
    details = [
        Detail(field_label(None, k), _version(v) if k.endswith("version") else _plain(v))
        for k, v in changes.items()
        if k not in diffs and k not in links
    ]
    return Readable(rows, details)


def _version(number: Any) -> str:
    return "none" if number is None else f"v{number}" if isinstance(number, int) else str(number)


def summary(event: AuditEvent) -> str:
    """One line for the list (no queries): which fields changed, or the action's outcome."""
    changes = event.changes if isinstance(event.changes, dict) else {}
    if event.action == Action.PUBLISH and "version" in changes:
        return f"{_version(changes.get('previous_version'))} → {_version(changes['version'])}"
    if event.action == Action.TEST_FINISHED:
        status = str(changes.get("status", ""))
        code = changes.get("error_code")
        return f"{status}: {code}" if code else status
    if event.action in (Action.CREATE, Action.DELETE):
        return ""
    model = _model(event.object_type)
    names = [
        field_label(model, k)
        for k in _in_model_order(model, changes)
        if isinstance(changes[k], (list, dict))
    ]
    return ", ".join(names)


# --- links --------------------------------------------------------------------------------


@dataclass
class Links:
    console: str = ""
    admin: str = ""


def _console_url(object_type: str, pk: Any) -> str:
    try:
        if object_type == "integrations.bedrockmodel":
            return reverse("integrations:detail", args=[pk])
        if object_type == "prompts_library.prompt":
            return reverse("prompts_library:detail", args=[pk])
        if object_type == "prompts_library.apitoken":
            return reverse("prompts_library:tokens")
    except NoReverseMatch:
        pass
    return ""


def links(event: AuditEvent) -> Links:
    """The object's page in the console and in admin, when it still exists (one query)."""
    model = _model(event.object_type)
    oid = event.object_id
    if model is None or not (oid.isascii() and oid.isdigit()):
        return Links()
    if event.object_type == "prompts_library.promptversion":
        prompt_id = (
            model._base_manager.filter(pk=int(oid)).values_list("prompt_id", flat=True).first()
        )
        if prompt_id is None:
            return Links()
        return Links(_console_url("prompts_library.prompt", prompt_id), _admin_url(model, oid))
    if not model._base_manager.filter(pk=int(oid)).exists():
        return Links()
    return Links(_console_url(event.object_type, int(oid)), _admin_url(model, oid))


def _admin_url(model: type[models.Model], pk: str) -> str:
    if not admin.site.is_registered(model):
        return ""
    opts = model._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
    except NoReverseMatch:
        return ""
