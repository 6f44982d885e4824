"""A model's raw JSON response as a tree whose leaf values carry their JMESPath.

The admin clicks a value on a prompt test's result and static/js/prompts.js puts the value's
path into the "Response path" field. Paths are built here, server-side, so that keys that are
not JMESPath identifiers ("a b", "x-y", "1st", "") come out as quoted identifiers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Past this many leaves the tree is not drawn: the raw text is shown instead.
MAX_LEAVES = 2000
# Leaf values longer than this are shown shortened (the path is what matters).
MAX_LEAF_CHARS = 200


def key_segment(key: str) -> str:
    """The key as a JMESPath identifier: bare when it can be, else a quoted identifier."""
    if _IDENTIFIER.fullmatch(key):
        return key
    # A quoted identifier takes JSON's string escapes (JMESPath spec, quoted-string).
    return json.dumps(key, ensure_ascii=False)


def child_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    segment = key_segment(key)
    return f"{parent}.{segment}" if parent else segment


def leaves(data: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar in the document with its JMESPath, in document order."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, child_path(path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from leaves(value, child_path(path, i))
    else:
        yield path, data


def _leaf(path: str, value: Any) -> SafeString:
    text = json.dumps(value, ensure_ascii=False)
    shown = text if len(text) <= MAX_LEAF_CHARS else text[: MAX_LEAF_CHARS - 1] + "…"
    kind = "string" if isinstance(value, str) else "other"
    return format_html(
        '<button type="button" class="json-leaf {}" data-path="{}" title="{}">{}</button>',
        kind,
        path,
        f"Use {path} as the Response path",
        shown,
    )


def _node(data: Any, path: str) -> SafeString:
    if isinstance(data, dict):
        if not data:
            # Constant markup, no input in it (bandit: reviewed).
            return mark_safe('<span class="json-empty">{}</span>')  # nosec B308
        items = format_html_join(
            "",
            '<li><span class="json-key">{}</span>: {}</li>',
            (
                (json.dumps(k, ensure_ascii=False), _node(v, child_path(path, k)))
                for k, v in data.items()
            ),
        )
        return format_html('<ul class="json-object">{}</ul>', items)
    if isinstance(data, list):
        if not data:
            # Constant markup, no input in it (bandit: reviewed).
            return mark_safe('<span class="json-empty">[]</span>')  # nosec B308
        items = format_html_join(
            "",
            '<li><span class="json-index">{}</span>: {}</li>',
            ((i, _node(v, child_path(path, i))) for i, v in enumerate(data)),
        )
        return format_html('<ol class="json-array" start="0">{}</ol>', items)
    return _leaf(path, data)


def render(data: Any) -> SafeString:
    return format_html('<div class="json-tree">{}</div>', _node(data, ""))


def render_raw(raw: str) -> SafeString:
    """The tree for a raw response, or the raw text when it is not JSON (or too big to draw)."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    else:
        for count, _ in enumerate(leaves(data), 1):
            if count > MAX_LEAVES:
                data = None
                break
    if not isinstance(data, dict | list):
        return format_html('<pre class="code">{}</pre>', raw)
    return render(data)
