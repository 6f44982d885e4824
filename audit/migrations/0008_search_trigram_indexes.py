"""On PostgreSQL, trigram indexes for the audit list's search (object name or actor, contains,
any case), so that a rare name is found without reading every event.

Django's icontains is UPPER(col::text) LIKE UPPER('%term%'): the indexes are on that expression.
pg_trgm is a trusted extension (PostgreSQL 13+); where it cannot be created the search still
works, reading the table instead, and the migration says so.
"""

from django.db import migrations

COLUMNS = ("object_repr", "actor_repr")


def create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT audit_trgm")
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as error:
            cursor.execute("ROLLBACK TO SAVEPOINT audit_trgm")
            print(f"\n  audit search: no pg_trgm ({error}); search reads the table instead")
            return
        for column in COLUMNS:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS audit_{column}_trgm ON audit_auditevent "
                f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
            )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for column in COLUMNS:
            cursor.execute(f"DROP INDEX IF EXISTS audit_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_archive_checkpoints")]

    operations = [migrations.RunPython(create, drop)]
