"""Parameters read from query strings and forms: numbers in ASCII digits and bounded, or a 400.

`str.isdigit()` accepts superscripts and other scripts' digits ("²", "٣"), which `int()` or
the database then refuse with a server error; a number of a hundred digits overflows the
database's integers. Every view, and the admin, reads a numeric parameter through here.

StrictParamsMiddleware refuses, with a 400, what no page can use and the database would fail
on: a NUL in a query string value (PostgreSQL text holds none), and admin actions posted with
ids that are not ids (Django admin filters on them as they come).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse

# The largest value a BigAutoField (and PostgreSQL's bigint) holds.
MAX_ID = 2**63 - 1

_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)


def parse_int(raw: Any, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """The number written in `raw` with ASCII digits only, within the bounds; else None."""
    if not isinstance(raw, str) or not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if minimum <= value <= maximum else None


def parse_id(raw: Any) -> int | None:
    """A primary key: 1 to MAX_ID in ASCII digits; else None."""
    return parse_int(raw, minimum=1)


def int_param(
    params: Mapping[str, Any],
    name: str,
    default: int | None = None,
    *,
    minimum: int = 0,
    maximum: int = MAX_ID,
) -> int | None:
    """`params[name]` as a number: `default` when absent or empty, a 400 when it is not one."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    value = parse_int(raw, minimum=minimum, maximum=maximum)
    if value is None:
        raise BadRequest(f"{name} must be a whole number from {minimum} to {maximum}.")
    return value


def id_param(params: Mapping[str, Any], name: str) -> int | None:
    """`params[name]` as a primary key: None when absent or empty, a 400 when it is not one."""
    return int_param(params, name, minimum=1)


class StrictParamsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any("\x00" in v for values in request.GET.lists() for v in values[1]):
            raise BadRequest("A query parameter holds a NUL character.")
        if request.method == "POST" and request.path.startswith(ADMIN_PREFIX):
            selected = request.POST.getlist(ACTION_CHECKBOX_NAME)
            if any(parse_id(pk) is None for pk in selected):
                raise BadRequest("The selected rows are not ids.")
        return self.get_response(request)


ADMIN_PREFIX = "/admin/"
