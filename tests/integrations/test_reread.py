"""A live stream's look reads its row with a statement built once (config.reread); the end of a
test changes its row and reads it back in one statement."""

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler

from config.reread import Reread, update_and_read, update_then_read
from integrations.models import ConnectionTest, Provider
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


def ended_reader():
    return Reread(
        ConnectionTest._base_manager.select_related("created_by", "integration__provider")
    )


def running_test(alice, integration=None):
    integration = integration or make_integration()
    test = ConnectionTest(integration=integration, created_by=alice, status="invoking")
    test.apply(integration.configuration())
    test.save()
    return test


def unended(test):
    return ConnectionTest.objects.filter(pk=test.pk).exclude(status__in=ConnectionTest.TERMINAL)


@pytest.mark.django_db
@pytest.mark.parametrize("how", [update_and_read, update_then_read])
def test_it_changes_a_row_and_reads_it_back(alice, how):
    test = running_test(alice)
    reader = ended_reader()
    row = how(unended(test), {"status": "succeeded", "output_text": "Hello"}, reader)
    assert (row.pk, row.status, row.output_text) == (test.pk, "succeeded", "Hello")
    assert row.created_by.get_username() == "alice"
    assert row.integration.provider.name == test.integration.provider.name
    assert values(row) == values(ConnectionTest.objects.get(pk=test.pk))
    # A row that no longer matches is neither changed nor read.
    assert how(unended(test), {"status": "failed"}, reader) is None
    assert ConnectionTest.objects.get(pk=test.pk).status == "succeeded"


@pytest.mark.django_db
def test_it_takes_one_statement_on_postgresql(alice, django_assert_num_queries):
    if connection.vendor != "postgresql":
        pytest.skip("elsewhere: update_then_read")
    test = running_test(alice)
    reader = ended_reader()
    with django_assert_num_queries(1):
        row = update_and_read(unended(test), {"status": "failed"}, reader)
        assert row.created_by.get_username() == "alice"  # read with the row
    assert row.status == "failed"


@pytest.mark.django_db
def test_it_refuses_a_reader_of_another_model_or_of_its_table_twice():
    with pytest.raises(ValueError):
        update_and_read(
            ConnectionTest.objects.filter(pk=1), {"status": "failed"}, Reread(Provider.objects)
        )
    twice = Reread(ConnectionTest.objects.select_related("integration__last_test"))
    with pytest.raises(ValueError):
        update_and_read(ConnectionTest.objects.filter(pk=1), {"status": "failed"}, twice)


@pytest.mark.django_db
def test_it_reads_a_row_by_its_fields_with_the_statement_built_once(
    alice, monkeypatch, django_assert_num_queries
):
    test = running_test(alice)
    other = running_test(alice, test.integration)
    reader = Reread(ConnectionTest.objects.select_related("created_by"))
    built = []
    real = SQLCompiler.as_sql
    monkeypatch.setattr(
        SQLCompiler, "as_sql", lambda self, *a, **k: built.append(1) or real(self, *a, **k)
    )
    with django_assert_num_queries(1):
        row = reader.first_matching(pk=test.pk, status="invoking")
        assert row.created_by.get_username() == "alice"
    if connection.vendor == "postgresql":
        assert built == []
    assert values(row) == values(ConnectionTest.objects.get(pk=test.pk))
    assert reader.first_matching(pk=other.pk, status="invoking").pk == other.pk
    assert reader.first_matching(pk=test.pk, status="queued") is None
