"""Pages of a list without counting the table: fetch one row more than a page to know
whether there is a next page, so that a page costs the same whatever the table's size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest

from config import params

PAGE_SIZE = 50
MAX_QUERY_LENGTH = 100


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    number: int
    has_previous: bool
    has_next: bool
    q: str
    size: int = PAGE_SIZE

    def _url(self, number: int) -> str:
        params = {k: v for k, v in (("q", self.q), ("page", number)) if v and v != 1}
        return "?" + urlencode(params) if params else "?"

    @property
    def previous_url(self) -> str:
        return self._url(self.number - 1)

    @property
    def next_url(self) -> str:
        return self._url(self.number + 1)

    @property
    def first_row(self) -> int:
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def last_row(self) -> int:
        return (self.number - 1) * self.size + len(self.rows)


def search_text(request: HttpRequest) -> str:
    return request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]


MAX_PAGE = 100_000


def page_number(request: HttpRequest) -> int:
    """?page=N, 1 to MAX_PAGE in ASCII digits (absent or empty: 1); anything else is a 400."""
    return params.int_param(request.GET, "page", 1, minimum=1, maximum=MAX_PAGE) or 1


def page_of(queryset: QuerySet[Any], request: HttpRequest, size: int = PAGE_SIZE) -> Page:
    """The request's page (?page=N) of an ordered queryset; never a COUNT of it."""
    number = page_number(request)
    start = (number - 1) * size
    rows = list(queryset[start : start + size + 1])
    return Page(
        rows=rows[:size],
        number=number,
        has_previous=number > 1,
        has_next=len(rows) > size,
        q=search_text(request),
        size=size,
    )
