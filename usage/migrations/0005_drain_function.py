"""On PostgreSQL, the function that moves a batch of the usage journal into the records and
their rollups (usage.journal.DRAIN_BODY). It is created from the journal's statement as it is
when this migration runs: PL/pgSQL checks no table or column at creation, and a later change of
the statement or of the tables replaces the function in its own migration.
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from usage.journal import CREATE_DRAIN

        schema_editor.execute(CREATE_DRAIN)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS usage_drain(jsonb)")


class Migration(migrations.Migration):
    dependencies = [("usage", "0004_call_journal")]

    operations = [migrations.RunPython(create, drop)]
