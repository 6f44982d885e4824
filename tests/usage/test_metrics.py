"""/metrics: Prometheus text behind METRICS_TOKEN, counters that match the records."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bedrock import observe
from integrations.models import ConnectionTest
from tests.integrations.fixtures import make_integration
from tests.usage.helpers import report
from usage.models import CallRecord

pytestmark = pytest.mark.django_db

SECRET = "metrics-secret-for-tests"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = SECRET


def scrape(client, token=SECRET):
    r = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 200, r.content
    samples = {}
    for family in text_string_to_metric_families(r.content.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def total(samples, name, **labels):
    return sum(
        v
        for (n, ls), v in samples.items()
        if n == name and all(dict(ls).get(k) == w for k, w in labels.items())
    )


def test_its_counters_match_the_records(client, metrics_on):
    integration = make_integration()
    before = scrape(client)
    for i in range(9):
        report(
            integration_id=integration.pk,
            ok=i % 3 != 0,
            error_code="" if i % 3 else "ThrottlingException",
            total_ms=150,
            input_tokens=100,
            output_tokens=50,
        )
    report(observe.CONNECTION_TEST, integration_id=integration.pk, total_ms=900)
    after = scrape(client)

    def delta(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    records = CallRecord.objects.all()
    assert delta("console_model_calls_total") == records.count() == 10
    assert (
        delta("console_model_calls_total", kind="invoke_api", outcome="error")
        == records.filter(ok=False).count()
        == 3
    )
    assert delta("console_model_errors_total", code="ThrottlingException") == 3
    assert delta("console_model_tokens_total", direction="input") == 900
    assert (
        delta("console_model_tokens_total", direction="output", integration=str(integration.pk))
        == 450
    )
    cost = sum(r.cost_nano for r in records if r.cost_nano) / 1e9
    assert delta("console_model_cost_usd_total") == pytest.approx(cost)
    assert delta("console_model_call_duration_seconds_count", kind="invoke_api") == 9
    assert (
        delta("console_model_call_duration_seconds_bucket", kind="connection_test", le="1.0") == 1
    )
    assert (
        delta("console_model_call_duration_seconds_bucket", kind="connection_test", le="0.75") == 0
    )


def test_it_reports_tests_waiting_and_running_and_worker_heartbeats(client, metrics_on):
    from django.utils import timezone

    integration = make_integration()
    fields = {
        f: getattr(integration, f)
        for f in (
            "role_arn",
            "sts_endpoint",
            "external_id",
            "model_id",
            "endpoint",
            "request_json",
            "fingerprint",
        )
    }
    ConnectionTest.objects.create(status="queued", **fields)
    beat = timezone.now()
    ConnectionTest.objects.create(status="running", worker="w1@host:12", heartbeat=beat, **fields)
    samples = scrape(client)
    assert total(samples, "console_tests", kind="connection", status="queued") == 1
    assert total(samples, "console_tests", kind="connection", status="running") == 1
    assert total(
        samples, "console_worker_last_heartbeat_timestamp_seconds", worker="w1@host:12"
    ) == pytest.approx(beat.timestamp())


def test_it_is_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_a_wrong_token_is_refused(client, metrics_on):
    assert client.get("/metrics").status_code == 401
    r = client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert r.status_code == 401 and r["WWW-Authenticate"].startswith("Bearer")
