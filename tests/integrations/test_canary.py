"""The health canary re-tests every saved integration; the list shows each one's health."""

import importlib

import pytest

from config.celery import app
from integrations import services
from integrations.models import BedrockModel, ConnectionTest
from sandbox import DEMO_EXTERNAL_ID, DEMO_ROLE_ARN
from tests.conftest import wait_for_test
from tests.integrations.fixtures import make_integration


def _wait_for_canaries():
    for pk in ConnectionTest.objects.filter(kind="canary").values_list("pk", flat=True):
        wait_for_test(pk)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
class TestCanary:
    def test_it_retests_every_integration_and_the_list_shows_success(
        self, alice_client, sandbox, celery_worker
    ):
        a = make_integration(name="Haiku A", tested=False)
        b = make_integration(name="Haiku B", tested=False)
        assert services.run_canary() == 2
        _wait_for_canaries()
        canaries = ConnectionTest.objects.filter(kind="canary")
        assert {t.integration_id for t in canaries} == {a.pk, b.pk}
        assert {t.status for t in canaries} == {"succeeded"}
        assert all(t.session_name.startswith("console-system-canary") for t in canaries)
        for integration in BedrockModel.objects.all():
            assert integration.last_success_at is not None
            assert integration.last_test.kind == "canary"
        r = alice_client.get("/")
        assert "just now" in r.text  # the last success, seconds ago

    def test_a_removed_model_access_shows_as_the_last_failure_with_its_reason(
        self, alice_client, sandbox, celery_worker
    ):
        integration = make_integration()
        # The role's permission policy no longer allows the model.
        sandbox.state.add_role(DEMO_ROLE_ARN, DEMO_EXTERNAL_ID, models=["amazon.titan-*"])
        services.run_canary()
        _wait_for_canaries()
        integration.refresh_from_db()
        assert integration.last_failure_at is not None
        assert integration.last_failure_reason.startswith("AccessDenied")
        assert integration.last_success_at is not None  # the earlier success is kept
        r = alice_client.get("/")
        assert "AccessDenied" in r.text

    def test_an_integration_whose_canary_still_runs_is_skipped(self, sandbox):
        make_integration()
        integration = BedrockModel.objects.get()
        ConnectionTest.objects.create(
            integration=integration,
            kind="canary",
            status="invoking",
            fingerprint=integration.fingerprint,
            role_arn=integration.role_arn,
            sts_endpoint=integration.sts_endpoint,
            external_id=integration.external_id,
            model_id=integration.model_id,
            endpoint=integration.endpoint,
            request_json=integration.request_json,
        )
        assert services.run_canary() == 0


def test_the_beat_schedule_has_the_canary_only_when_enabled(monkeypatch):
    from config import settings as settings_module

    try:
        monkeypatch.setenv("CANARY_ENABLED", "false")
        assert "health-canary" not in importlib.reload(settings_module).CELERY_BEAT_SCHEDULE
        monkeypatch.setenv("CANARY_ENABLED", "true")
        monkeypatch.setenv("CANARY_INTERVAL_SECONDS", "120")
        schedule = importlib.reload(settings_module).CELERY_BEAT_SCHEDULE
        assert schedule["health-canary"] == {
            "task": "integrations.tasks.run_health_canary",
            "schedule": 120.0,
        }
        assert "integrations.tasks.run_health_canary" in app.tasks
    finally:
        monkeypatch.undo()
        importlib.reload(settings_module)
