"""The rule every check of a user-typed value follows, and the helpers they share.

Pure Python: no Django, no boto3. Every validation error is an :class:`InvalidValue` whose
``str()`` is a sentence that can be shown next to a form field. Messages never echo more than a
short, sanitised excerpt of the input, and never echo values that may be secret (header values,
external ids).
"""

from __future__ import annotations

import re

__all__ = [
    "InvalidValue",
    "check_length",
    "check_plain",
    "echo",
    "first_bad_char",
    "require_text",
]


class InvalidValue(ValueError):
    """A user-supplied value is not acceptable; ``str(exc)`` is a sentence for the form."""


ARN_MAX = 2048
ECHO_MAX = 60

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
WHITESPACE_RE = re.compile(r"\s")


def echo(value: str, limit: int = ECHO_MAX) -> str:
    """A short, printable, quoted excerpt of ``value`` for an error message."""
    clipped = value if len(value) <= limit else value[: limit - 1] + "…"
    printable = CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", clipped)
    return f"'{printable}'"


def require_text(value: object, what: str, example: str) -> str:
    """``value`` stripped; refuses non-text and blanks with a sentence giving ``example``."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidValue(f"The {what} must be text.")
    value = value.strip()
    if not value:
        raise InvalidValue(f"Enter the {what}, for example {example}.")
    return value


def check_plain(value: str, what: str) -> None:
    """Refuse control characters and inner whitespace (both are always mistakes or attacks)."""
    if WHITESPACE_RE.search(value):
        raise InvalidValue(f"The {what} must not contain spaces or line breaks.")
    if CONTROL_RE.search(value):
        raise InvalidValue(f"The {what} contains a control character; retype it by hand.")


def check_length(value: str, what: str, maximum: int = ARN_MAX) -> None:
    """Refuse a value longer than ``maximum`` (an ARN's 2048 characters by default)."""
    if len(value) > maximum:
        raise InvalidValue(
            f"The {what} is too long: at most {maximum} characters (got {len(value)})."
        )


def first_bad_char(value: str, allowed: re.Pattern[str]) -> str:
    """How to name, in a message, the first character of ``value`` that ``allowed`` refuses."""
    for char in value:
        if not allowed.fullmatch(char):
            if char == " ":
                return "a space"
            if not char.isprintable():
                return f"the control character U+{ord(char):04X}"
            return f"'{char}'"
    return "an invalid character"
