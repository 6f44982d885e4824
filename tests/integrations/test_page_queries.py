"""The lists run the same number of queries whatever the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import ConnectionTest
from prompts_library import services as prompts
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import content, make_prompt


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as q:
        assert client.get(path).status_code == 200
    return len(q)


def _grow(n: int, start: int) -> None:
    for i in range(start, start + n):
        integration = make_integration(provider=f"Provider {i % 3}", name=f"Model {i}")
        prompt = make_prompt(name=f"Prompt {i}", integration=integration)
        for _ in range(3):
            prompts.save_version(prompt, content(), None)
        test = integration.last_test
        ConnectionTest.objects.bulk_create(
            [ConnectionTest(**{**_copy(test), "status": "failed"}) for _ in range(5)]
        )


def _copy(test) -> dict:
    fields = [f.name for f in ConnectionTest._meta.concrete_fields if f.name != "id"]
    return {f: getattr(test, f) for f in fields}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/?page=2",
        "/?q=model",
        "/prompts/",
        "/prompts/?page=2",
        "/admin/audit/auditevent/",
        "/admin/audit/auditevent/?p=2",
    ],
)
def test_queries_per_page_do_not_grow_with_the_data(
    alice_client, path, django_assert_max_num_queries
):
    _grow(2, 0)
    small = _queries(alice_client, path)
    _grow(20, 2)
    with django_assert_max_num_queries(small):
        assert alice_client.get(path).status_code == 200


@pytest.mark.django_db
def test_the_audit_changelist_never_counts_the_whole_table(alice_client):
    _grow(3, 0)
    with CaptureQueriesContext(connection) as q:
        page = alice_client.get("/admin/audit/auditevent/")
    assert page.status_code == 200
    counts = [x["sql"] for x in q.captured_queries if "COUNT(" in x["sql"].upper()]
    assert counts, "the changelist counts a bounded subquery"
    for sql in counts:
        assert "LIMIT" in sql.upper(), sql
