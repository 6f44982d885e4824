"""The live status: the request waits server-side for the next state; stale tests are ended."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations import services
from integrations.models import ConnectionTest
from tests.integrations.fixtures import make_integration

HTMX = {"HTTP_HX_REQUEST": "true"}


def queued_test(integration):
    config = integration.configuration()
    return ConnectionTest.objects.create(
        integration=integration,
        fingerprint=config.fingerprint(),
        role_arn=config.role_arn,
        sts_endpoint=config.sts_endpoint,
        external_id=config.external_id,
        model_id=config.model_id,
        endpoint=config.endpoint,
        request_json=config.request_json,
    )


@pytest.mark.django_db(transaction=True)
class TestStatus:
    def test_it_answers_as_soon_as_the_status_changes(self, alice_client):
        test = queued_test(make_integration(tested=False))

        def move_on():
            time.sleep(0.3)
            ConnectionTest.objects.filter(pk=test.pk).update(
                status="assuming_role", started=timezone.now()
            )

        threading.Thread(target=move_on).start()
        started = time.monotonic()
        r = alice_client.get(f"/integrations/tests/{test.pk}/?after=queued", **HTMX)
        elapsed = time.monotonic() - started
        assert 0.25 < elapsed < 5
        assert 'data-status="assuming_role"' in r.text
        assert "?after=assuming_role" in r.text

    def test_a_terminal_test_stops_polling(self, alice_client):
        integration = make_integration()
        r = alice_client.get(f"/integrations/tests/{integration.last_test.pk}/", **HTMX)
        assert "hx-get" not in r.text.split('id="save-button"')[0]
        assert "Success" in r.text

    def test_it_renders_a_full_page_without_htmx(self, alice_client):
        integration = make_integration()
        r = alice_client.get(f"/integrations/tests/{integration.last_test.pk}/")
        assert "<html" in r.text and "Success" in r.text


@pytest.mark.django_db
class TestReaper:
    def test_a_test_running_past_its_deadline_fails_with_a_reason(self, alice_client, settings):
        integration = make_integration(tested=False)
        test = queued_test(integration)
        long_ago = timezone.now() - timedelta(seconds=settings.CONNECTION_TEST_DEADLINE + 1)
        ConnectionTest.objects.filter(pk=test.pk).update(status="invoking", started=long_ago)
        assert services.reap_stale_tests() == 1
        test.refresh_from_db()
        assert (test.status, test.failed_step, test.error_code) == (
            "failed",
            "worker",
            "WorkerLost",
        )
        integration.refresh_from_db()
        assert integration.last_failure_reason.startswith("WorkerLost")
        assert services.reap_stale_tests() == 0

    def test_a_test_nobody_picked_up_fails(self, settings):
        test = queued_test(make_integration(tested=False))
        ConnectionTest.objects.filter(pk=test.pk).update(
            created=timezone.now() - timedelta(seconds=settings.CONNECTION_TEST_QUEUE_DEADLINE + 1)
        )
        assert services.reap_stale_tests(test.pk) == 1
        test.refresh_from_db()
        assert test.error_code == "NotPickedUp"

    def test_an_ended_test_is_not_claimed_again(self):
        integration = make_integration()
        assert services.claim(integration.last_test.pk) is None
