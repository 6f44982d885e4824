"""Pages of the audit list that count only as far as the pager links.

With a million events, counting every match of a filter (or even the first 10,000 of them) costs
more than the page itself. The pager links the page asked for, the AHEAD pages after it and the
first pages; so the list counts at most one row past the last page it links to. If that row is
there, the list says "more than N" (N: the rows up to the last linked page) and the pager ends
with "…" instead of a last page it does not know. Otherwise the count is exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.paginator import Paginator
from django.utils.functional import cached_property

# The pages after the current one that the pager links to (Django's on_each_side).
AHEAD = 3


class LookaheadPaginator(Paginator):
    """SELECT COUNT(*) FROM (... LIMIT cap): cap is one row past page + AHEAD."""

    def __init__(
        self,
        object_list: Any,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
        *,
        page: int = 1,
    ) -> None:
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.cap = (page + AHEAD) * int(per_page) + 1

    @cached_property
    def count(self) -> int:
        queryset: Any = self.object_list
        return queryset.order_by()[: self.cap].count()

    @property
    def more(self) -> bool:
        """Rows go on past the last page the pager links to (the count stopped there)."""
        return self.count >= self.cap

    @property
    def at_least(self) -> int:
        """What the list can say when there are more: "more than" this many."""
        return self.cap - 1

    def get_elided_page_range(
        self, number: Any = 1, *, on_each_side: int = 3, on_ends: int = 2
    ) -> Iterator[Any]:
        if not self.more:
            yield from super().get_elided_page_range(
                number, on_each_side=on_each_side, on_ends=on_ends
            )
            return
        # The first pages, the pages around this one, then "…": no last page, it is not known.
        number = self.validate_number(number)
        if number > on_each_side + on_ends + 2:
            yield from range(1, on_ends + 1)
            yield self.ELLIPSIS
            yield from range(number - on_each_side, number + 1)
        else:
            yield from range(1, number + 1)
        yield from range(number + 1, number + AHEAD + 1)
        yield self.ELLIPSIS
