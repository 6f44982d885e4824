"""Reading the same row again and again with its statement built once.

A live stream reads its test row (with the rows its part shows: who started it, the
integration, its provider and last test) at every look. Django builds the SQL of a queryset
anew at each evaluation: for that five-table read, about as long again as running it. The
statement does not change between looks, so `Reread` builds it once and, at each `first()`,
runs it and builds the instances as Django's ModelIterable does (select_related included).
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import get_related_populators


class Reread:
    """`rows.first()` for a queryset that selects at most one row (a primary key), with the
    statement compiled once. Annotations and extra selects are not supported (refused).

    Build it where the database may be used (it may ask the server's version), not in an
    event loop."""

    def __init__(self, rows: QuerySet[Any]) -> None:
        rows = rows.order_by()[:1]  # one row by its key: no ordering to compile or sort
        self.db = rows.db
        compiler = rows.query.get_compiler(using=self.db)
        self.sql, self.params = compiler.as_sql()
        if compiler.annotation_col_map or rows._known_related_objects:  # type: ignore[attr-defined]
            raise ValueError("Reread reads plain rows (and select_related) only")
        select, klass_info = compiler.select, compiler.klass_info
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.model = klass_info["model"]
        self.init_list = [f[0].target.attname for f in select[self.start : self.end]]
        self.fetch_mode = rows._fetch_mode  # type: ignore[attr-defined]
        self.populators = get_related_populators(klass_info, select, self.db, self.fetch_mode)
        self.converters = list(
            compiler.get_converters([s[0] for s in select[: compiler.col_count]]).items()
        )

    def first(self) -> Any | None:
        connection = connections[self.db]  # this thread's
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.params)
            found = cursor.fetchone()
        if found is None:
            return None
        row = list(found)
        for pos, (convs, expression) in self.converters:  # as SQLCompiler.apply_converters
            for converter in convs:
                row[pos] = converter(row[pos], expression, connection)
        obj = self.model.from_db(
            self.db, self.init_list, row[self.start : self.end], fetch_mode=self.fetch_mode
        )
        for populator in self.populators:
            populator.populate(row, obj)
        return obj
