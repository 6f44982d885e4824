"""A live stream's look reads its row with a statement built once (config.reread)."""

import pytest
from django.db.models.sql.compiler import SQLCompiler

from config.reread import Reread
from integrations.models import ConnectionTest
from tests.integrations.fixtures import make_integration


def rows_of(test):
    return ConnectionTest.objects.filter(pk=test.pk).select_related(
        "created_by", "integration__provider", "integration__last_test"
    )


def values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.django_db
def test_it_reads_what_the_queryset_reads(alice, monkeypatch, django_assert_num_queries):
    integration = make_integration()
    test = ConnectionTest(integration=integration, created_by=alice, output_text="Hi")
    test.apply(integration.configuration())
    test.save()
    integration.last_test = test
    integration.save()
    reader = Reread(rows_of(test))

    built = []
    real = SQLCompiler.as_sql
    monkeypatch.setattr(
        SQLCompiler, "as_sql", lambda self, *a, **k: built.append(1) or real(self, *a, **k)
    )
    for _ in range(2):
        with django_assert_num_queries(1):  # the row and all it shows, nothing read later
            row = reader.first()
            assert row.created_by.get_username() == "alice"
            assert row.integration.provider.name == integration.provider.name
            assert row.integration.last_test.pk == test.pk
            assert row.integration.verified == integration.verified
    assert built == []  # the statement was built once, before

    expected = rows_of(test).first()
    assert values(row) == values(expected)
    assert row.configuration() == expected.configuration()
    for name in ("created_by", "integration"):
        assert values(getattr(row, name)) == values(getattr(expected, name))

    ConnectionTest.objects.filter(pk=test.pk).update(status="succeeded")
    assert reader.first().status == "succeeded"  # read anew each time
    ConnectionTest.objects.filter(pk=test.pk).delete()
    assert reader.first() is None


@pytest.mark.django_db
def test_a_test_of_values_not_saved_yet(alice):
    integration = make_integration()
    test = ConnectionTest(created_by=None)
    test.apply(integration.configuration())
    test.save()
    row = Reread(rows_of(test)).first()
    assert row.integration is None and row.created_by is None
    assert values(row) == values(rows_of(test).first())
