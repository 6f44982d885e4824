"""Reading the same row again and again with its statement built once.

A live stream reads its test row (with the rows its part shows: who started it, the
integration, its provider and last test) at every look. Django builds the SQL of a queryset
anew at each evaluation: for that five-table read, about as long again as running it. The
statement does not change between looks, so `Reread` builds it once and, at each `first()`,
runs it and builds the instances as Django's ModelIterable does (select_related included).

A reader built once also reads other rows of its table, without building its statement again:
`first_matching` (a worker's claim reads its queued test so), and `update_and_read`, a row changed
and read back in one statement (the end of a test, between the model's answer and the page).
"""

from __future__ import annotations

from typing import Any, cast

from django.db import connections
from django.db.models import QuerySet, sql
from django.db.models.query import get_related_populators


class Reread:
    """`rows.first()` for a queryset that selects at most one row (a primary key), with the
    statement compiled once. Annotations and extra selects are not supported (refused).

    Build it where the database may be used (it may ask the server's version), not in an
    event loop."""

    def __init__(self, rows: QuerySet[Any]) -> None:
        self.rows = rows
        rows = rows.order_by()[:1]  # one row by its key: no ordering to compile or sort
        self.db = rows.db
        compiler = rows.query.get_compiler(using=self.db)
        self.sql, self.params = compiler.as_sql()
        # Every table the statement reads, once per alias (the row's own first).
        self.tables = [join.table_name for join in compiler.query.alias_map.values()]
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
        return self.first_of(self.sql, self.params)

    def first_matching(self, **equal: Any) -> Any | None:
        """The first of the rows whose fields equal these values (with select_related's rows),
        with the statement built once: on PostgreSQL the rows' SELECT is written here and
        stands for the table in the reader's statement (first_among); elsewhere the queryset
        is filtered and built anew."""
        if not self.tables.count(self.model._meta.db_table) == 1:
            raise ValueError("first_matching reads the model's rows, once")
        if connections[self.db].vendor != "postgresql":
            return Reread(self.rows.filter(**equal)).first()
        connection = connections[self.db]
        quote = connection.ops.quote_name
        meta = self.model._meta
        fields = [meta.pk if name == "pk" else meta.get_field(name) for name in equal]
        where = " AND ".join(f"{quote(f.column)} = %s" for f in fields)  # type: ignore[union-attr]
        rows = f"SELECT * FROM {quote(meta.db_table)} WHERE {where}"  # noqa: S608  # nosec B608
        values = [
            f.get_db_prep_value(v, connection)  # type: ignore[union-attr]
            for f, v in zip(fields, equal.values(), strict=True)
        ]
        return self.first_among(rows, values)

    def first_among(self, rows: str, params: Any) -> Any | None:
        """The first row of this reader's statement over `rows`: a statement giving rows of the
        model's table, all their columns (a SELECT *, an UPDATE ... RETURNING *). It runs as a
        WITH named like the table, which stands for the table in the reader's statement
        (PostgreSQL; the reader must read its own table once, with no filter of its own)."""
        name = connections[self.db].ops.quote_name(self.model._meta.db_table)
        return self.first_of(f"WITH {name} AS ({rows}) {self.sql}", (*params, *self.params))

    def first_of(self, statement: str, params: Any) -> Any | None:
        """The first row of `statement`, which selects what this reader's statement selects."""
        connection = connections[self.db]  # this thread's
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
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


def update_and_read(rows: QuerySet[Any], values: dict[str, Any], reader: Reread) -> Any | None:
    """`rows.update(**values)`, and the first of the rows it changed as `reader` reads them, in
    one statement on PostgreSQL: one round trip instead of two. None when nothing changed.

    `reader` reads the model's rows (with select_related's tables as they are, and no filter of
    its own: it is built once): the UPDATE runs as a WITH named like its table, which stands
    for the table in the reader's statement, so that it reads only the rows changed (a
    data-modifying WITH runs exactly once, to the end, whatever reads it). The reader must not
    join its own table again. On other databases: update_then_read."""
    model = rows.model
    if reader.model is not model or reader.tables.count(model._meta.db_table) != 1:
        raise ValueError("update_and_read reads the updated model's rows, once")
    connection = connections[rows.db]
    if connection.vendor != "postgresql":
        return update_then_read(rows, values, reader)
    update = cast(sql.UpdateQuery, rows.query.chain(sql.UpdateQuery))
    update.add_update_values(values)
    update_sql, update_params = update.get_compiler(using=rows.db).as_sql()
    return reader.first_among(f"{update_sql} RETURNING *", update_params)


def update_then_read(rows: QuerySet[Any], values: dict[str, Any], reader: Reread) -> Any | None:
    """update_and_read in three statements, for any database: the keys of `rows`, their UPDATE,
    and the reader's statement on those keys (in the caller's transaction, as one)."""
    keys = list(rows.values_list("pk", flat=True))
    if not keys or not rows.filter(pk__in=keys).update(**values):
        return None
    return Reread(reader.rows.filter(pk__in=keys)).first()
