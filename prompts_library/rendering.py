"""Structure-aware rendering of request templates.

A template is a JSON object with ``{{name}}`` placeholders. Placeholders inside string values
are replaced by string substitution on the parsed value, and the body is encoded again with
json.dumps, so that any value (quotes, backslashes, newlines, braces, ``{{``) stays intact.
A placeholder standing alone as a whole JSON value (``"max_tokens": {{max_tokens}}``) takes a
typed value instead.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bedrock import rules
from bedrock.values import InvalidValue

__all__ = [
    "ParsedTemplate",
    "RenderError",
    "find_variables",
    "parse",
    "render",
    "render_samples",
    "sample_value",
]

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class RenderError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ParsedTemplate:
    body: Any
    variables: tuple[str, ...]
    # Variables that stand alone as a whole JSON value somewhere and so take typed values.
    typed: frozenset[str]
    sentinels: dict[str, str]

    def render(self, values: dict[str, Any]) -> str:
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise RenderError(
                "missing_variable", f"No value for {_names(missing)}: every variable is required."
            )
        unknown = [k for k in values if k not in self.variables]
        if unknown:
            raise RenderError(
                "unknown_variable", f"The template has no variable {_names(sorted(unknown))}."
            )
        rendered = _walk(self.body, values, self.sentinels)
        try:
            text = json.dumps(rendered, ensure_ascii=False, allow_nan=False)
        except ValueError:
            raise RenderError(
                "invalid_value", "NaN and Infinity are not allowed in JSON."
            ) from None
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (possible in JSON input) cannot go out as UTF-8: escape it.
            text = json.dumps(rendered, ensure_ascii=True, allow_nan=False)
        return text


def _names(names: list[str]) -> str:
    return ", ".join(names)


def _mark_bare_placeholders(template: str, nonce: str) -> tuple[str, dict[str, str]]:
    """Replace each ``{{name}}`` outside JSON strings by a unique sentinel string literal."""
    out: list[str] = []
    sentinels: dict[str, str] = {}
    i, n = 0, len(template)
    in_string = False
    start = 0
    while i < n:
        ch = template[i]
        if in_string:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
            i += 1
            continue
        if ch == "{" and template.startswith("{{", i):
            m = PLACEHOLDER.match(template, i)
            if m:
                sentinel = f"\x00{nonce}:{m[1]}\x00"
                sentinels[sentinel] = m[1]
                out.append(template[start:i])
                out.append(json.dumps(sentinel))
                i = start = m.end()
                continue
        i += 1
    out.append(template[start:])
    return "".join(out), sentinels


def parse(template: str) -> ParsedTemplate:
    nonce = secrets.token_hex(8)
    while nonce in template:  # pragma: no cover - 64 random bits
        nonce = secrets.token_hex(8)
    text, sentinels = _mark_bare_placeholders(template, nonce)
    try:
        body = rules.parse_json(text, "Request JSON")
    except InvalidValue as e:
        raise RenderError("invalid_template", str(e)) from None
    if not isinstance(body, dict):
        raise RenderError("invalid_template", "The Request JSON must be a JSON object ({…}).")
    found: dict[str, None] = {}
    typed: set[str] = set()
    _collect(body, sentinels, found, typed)
    return ParsedTemplate(body, tuple(found), frozenset(typed), sentinels)


def _collect(node: Any, sentinels: dict[str, str], found: dict, typed: set) -> None:
    if isinstance(node, str):
        if node in sentinels:
            found.setdefault(sentinels[node], None)
            typed.add(sentinels[node])
        else:
            for m in PLACEHOLDER.finditer(node):
                found.setdefault(m[1], None)
    elif isinstance(node, list):
        for item in node:
            _collect(item, sentinels, found, typed)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in sentinels:
                raise RenderError(
                    "invalid_template",
                    f"The placeholder {{{{{sentinels[key]}}}}} is used as a key: put it in quotes.",
                )
            _collect(key, sentinels, found, typed)
            _collect(value, sentinels, found, typed)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _walk(node: Any, values: dict[str, Any], sentinels: dict[str, str]) -> Any:
    if isinstance(node, str):
        if node in sentinels:
            return values[sentinels[node]]
        # A function replacement: backslashes in values are never read as group references.
        return PLACEHOLDER.sub(lambda m: _as_text(values[m[1]]), node)
    if isinstance(node, list):
        return [_walk(item, values, sentinels) for item in node]
    if isinstance(node, dict):
        return {_walk(k, values, sentinels): _walk(v, values, sentinels) for k, v in node.items()}
    return node


def find_variables(template: str) -> list[str]:
    """The template's variables in order of appearance, each once.

    A template that is not valid JSON (yet: the admin is typing) is searched as plain text.
    """
    try:
        return list(parse(template).variables)
    except RenderError:
        return list(dict.fromkeys(m[1] for m in PLACEHOLDER.finditer(template)))


def sample_value(text: str) -> Any:
    """A typed placeholder's sample, typed as JSON text: ``256`` is a number; else a string."""
    try:
        return rules.parse_json(text, "sample")
    except InvalidValue:
        return text


# A published version's template is rendered at every API call: parsed once. A parsed template
# is never changed by rendering (_walk builds a new body), so one can serve every call.
_parsed = lru_cache(maxsize=64)(parse)


def render(template: str, values: dict[str, Any]) -> str:
    return _parsed(template).render(values)


def render_samples(template: str, samples: dict[str, str]) -> str:
    """Render with the admin's sample values (all strings; typed placeholders parse theirs)."""
    parsed = parse(template)
    values = {
        name: sample_value(samples[name]) if name in parsed.typed else samples[name]
        for name in parsed.variables
        if name in samples
    }
    return parsed.render(values)
