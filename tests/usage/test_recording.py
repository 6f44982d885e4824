"""Every call the invocation core reports becomes one record and counts in its hour's rollup."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from bedrock import observe
from tests.integrations.fixtures import make_integration
from tests.usage.helpers import report
from usage import prices, recording
from usage.models import CallRecord, DailyRollup, HourlyRollup, bucket_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_caches():
    prices.forget()
    recording.forget_keeping()
    yield
    prices.forget()
    recording.forget_keeping()


def test_it_writes_one_record_per_call_with_every_figure():
    integration = make_integration()
    report(
        integration_id=integration.pk,
        feature="Co-pilot",
        http_status=200,
        total_ms=412.6,
        sts_ms=10.2,
        model_ms=400.1,
        first_token_ms=120.0,
        input_tokens=1000,
        output_tokens=2000,
        request_id="req-1",
    )
    record = CallRecord.objects.get()
    assert (record.kind, record.integration_id, record.feature, record.ok) == (
        "invoke_api",
        integration.pk,
        "Co-pilot",
        True,
    )
    assert (record.total_ms, record.sts_ms, record.model_ms, record.first_token_ms) == (
        413,
        10,
        400,
        120,
    )
    assert (record.input_tokens, record.output_tokens, record.request_id) == (1000, 2000, "req-1")
    # The sandbox's model is Claude 3 Haiku: $0.00025 per 1K in, $0.00125 per 1K out.
    assert record.cost_usd == Decimal("0.00025") + Decimal("0.0025")
    assert record.request_body == record.response_body == ""


def test_n_calls_make_n_records_and_their_rollup_sums_them():
    integration = make_integration()
    n = 37
    for i in range(n):
        report(
            integration_id=integration.pk,
            prompt_id=None,
            ok=i % 5 != 0,
            error_code="" if i % 5 else "ThrottlingException",
            total_ms=i * 10,
            input_tokens=i,
            output_tokens=2 * i,
        )
    assert CallRecord.objects.count() == n
    rollup = HourlyRollup.objects.get()
    assert rollup.calls == n
    assert rollup.errors == CallRecord.objects.filter(ok=False).count() == 8
    assert rollup.input_tokens == sum(range(n))
    assert rollup.output_tokens == 2 * sum(range(n))
    assert rollup.cost_nano == CallRecord.objects.aggregate(s=Sum("cost_nano"))["s"]
    assert rollup.latency_sum_ms == sum(i * 10 for i in range(n))
    histogram = [getattr(rollup, f"lat{b}") for b in range(16)]
    assert sum(histogram) == n
    assert (
        histogram[bucket_of(360)]
        == CallRecord.objects.filter(total_ms__gt=300, total_ms__lte=500).count()
    )


def test_each_combination_has_its_own_rollup_row():
    a, b = make_integration(name="A"), make_integration(name="B")
    for integration in (a, b, a):
        report(integration_id=integration.pk, token_id=7, total_ms=5)
    report(observe.CONNECTION_TEST, integration_id=a.pk, user_id=1, total_ms=5)
    rows = {(r.kind, r.integration_id, r.token_id): r.calls for r in HourlyRollup.objects.all()}
    assert rows == {
        ("invoke_api", a.pk, 7): 2,
        ("invoke_api", b.pk, 7): 1,
        ("connection_test", a.pk, 0): 1,
    }


def test_a_call_in_the_next_hour_starts_a_new_row(monkeypatch):
    integration = make_integration()
    report(integration_id=integration.pk)
    later = timezone.now() + timedelta(hours=1)
    monkeypatch.setattr(recording.timezone, "now", lambda: later)
    report(integration_id=integration.pk)
    assert sorted(HourlyRollup.objects.values_list("calls", flat=True)) == [1, 1]


def test_the_integrations_own_prices_win_over_the_list():
    integration = make_integration()
    integration.price_input_per_1k = Decimal("1")
    integration.price_output_per_1k = Decimal("2")
    integration.save(update_fields=["price_input_per_1k", "price_output_per_1k"])
    report(integration_id=integration.pk, input_tokens=500, output_tokens=250)
    assert CallRecord.objects.get().cost_usd == Decimal("1.0")


def test_a_model_without_a_known_price_has_no_cost():
    report(integration_id=None, input_tokens=500, output_tokens=250)
    assert CallRecord.objects.get().cost_nano is None


def test_bodies_are_dropped_unless_the_prompt_keeps_them():
    from tests.prompts.fixtures import make_prompt
    from usage.models import BodyKeeping

    prompt = make_prompt()
    body = '{"messages": [{"content": "hi"}], "api_key": "sk-very-secret", "x": "AKIAABCDEFGHIJKLMNOP"}'
    report(
        integration_id=prompt.integration_id,
        prompt_id=prompt.pk,
        request_body=body,
        response_body="{}",
    )
    assert CallRecord.objects.get().request_body == ""

    BodyKeeping.objects.create(prompt=prompt, days=3)
    recording.forget_keeping()
    report(
        integration_id=prompt.integration_id,
        prompt_id=prompt.pk,
        request_body=body,
        response_body="x" * 100_000,
    )
    kept = CallRecord.objects.order_by("-pk").first()
    assert (
        "sk-very-secret" not in kept.request_body
        and "AKIAABCDEFGHIJKLMNOP" not in kept.request_body
    )
    assert '"content": "hi"' in kept.request_body
    assert len(kept.response_body) < 20_000 and kept.response_body.endswith("(cut)")
    assert kept.bodies_until - kept.created == timedelta(days=3)


def test_an_observer_that_fails_does_not_change_the_call(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(recording, "write", broken)
    report(integration_id=None)
    assert CallRecord.objects.count() == 0
    assert "call observer" in caplog.text


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("durable", [False, True])
def test_on_postgresql_a_record_commits_without_waiting_for_the_disk_unless_asked(
    settings, durable
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("asynchronous commit is PostgreSQL's")
    settings.USAGE_DURABLE_RECORDS = durable
    settings.USAGE_JOURNAL = False  # the direct write (tests/usage/test_journal.py: the journal)
    with CaptureQueriesContext(connection) as queries:
        report(integration_id=None)
    sql = [q["sql"] for q in queries]
    # One round trip: the record and its rollups in one call of usage_record, its first
    # argument saying whether its transaction commits without waiting for the disk.
    assert len(sql) == 1 and sql[0].startswith("SELECT usage_record(")
    assert sql[0].startswith(f"SELECT usage_record({'false' if durable else 'true'}::boolean")
    assert CallRecord.objects.count() == 1 and DailyRollup.objects.get().calls == 1


@pytest.mark.django_db
@pytest.mark.parametrize("unflushed", [False, True])
def test_usage_record_sets_asynchronous_commit_for_its_own_transaction_only(unflushed):
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("usage_record is PostgreSQL's")
    record = {name: None for name in recording.RECORD_COLUMNS}
    record.update(created=timezone.now(), kind="invoke_api", feature="", ok=True)
    record.update(error_code="", request_id="", request_body="", response_body="")
    hour = timezone.now().replace(minute=0)
    dimensions, plain_sums = ("invoke_api", 0, 0, 0, "", 0), (1, 0, 0, 0, 0, 0)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        before = cursor.fetchone()[0]
        cursor.execute(
            recording.CALL_RECORD,
            recording.call_values(
                unflushed, tuple(record.values()), hour, dimensions, plain_sums, None
            ),
        )
        cursor.execute("SHOW synchronous_commit")
        during = cursor.fetchone()[0]
        cursor.execute("SHOW lock_timeout")
        lock_timeout = cursor.fetchone()[0]
    assert during == ("off" if unflushed else before)
    assert (lock_timeout == "1s") is unflushed
    assert CallRecord.objects.count() == 1 and HourlyRollup.objects.get().calls == 1


@pytest.mark.django_db(transaction=True)
def test_a_record_that_fails_leaves_the_connection_usable(caplog, settings):
    settings.USAGE_JOURNAL = False  # the direct write (tests/usage/test_journal.py: the journal)
    report(integration_id=2**70)  # beyond bigint: the statement fails
    assert "call observer" in caplog.text
    report(integration_id=None)
    assert CallRecord.objects.count() == 1
