"""The status part: the stored state, which listens to its live stream while the test runs."""

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
    def test_a_running_test_s_part_listens_to_its_stream_and_can_be_refreshed(self, alice_client):
        test = queued_test(make_integration(tested=False))
        r = alice_client.get(f"/integrations/tests/{test.pk}/", **HTMX)
        assert 'data-status="queued"' in r.text
        assert f'sse-connect="/integrations/tests/{test.pk}/events/?seen=queued"' in r.text
        assert 'sse-swap="status"' in r.text
        # Without JavaScript, a plain link shows the stored state.
        assert f'href="/integrations/tests/{test.pk}/">Refresh</a>' in r.text

    def test_showing_a_test_whose_worker_was_lost_ends_it(self, alice_client, settings):
        test = queued_test(make_integration(tested=False))
        long_ago = timezone.now() - timedelta(seconds=settings.TEST_LOST_AFTER_SECONDS + 1)
        ConnectionTest.objects.filter(pk=test.pk).update(
            status="invoking", started=long_ago, heartbeat=long_ago
        )
        r = alice_client.get(f"/integrations/tests/{test.pk}/")
        assert "The worker stopped" in r.text and "sse-connect" not in r.text

    def test_a_terminal_test_stops_polling(self, alice_client):
        integration = make_integration()
        r = alice_client.get(f"/integrations/tests/{integration.last_test.pk}/", **HTMX)
        assert "sse-connect" not in r.text
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


@pytest.mark.django_db
class TestClaim:
    def test_with_the_role_s_credentials_held_a_test_is_claimed_straight_to_invoking(self):
        from datetime import UTC, datetime

        from bedrock import client

        client.reset_caches()  # an earlier test in this process may have assumed the role
        test = queued_test(make_integration(tested=False))
        assert services.claim(test.pk).status == "assuming_role"  # nothing held yet

        test = queued_test(test.integration)
        held = client.AssumedCredentials(
            access_key_id="ASIAHELD",
            secret_access_key="held-secret",
            session_token="held-token",
            expiration=datetime.now(UTC) + timedelta(hours=1),
            assumed_role_arn="arn:aws:sts::111122223333:assumed-role/Held/earlier",
            assumed_at=datetime.now(UTC),
            session_name="earlier",
        )
        client._creds[(test.role_arn, test.external_id, test.sts_endpoint)] = held
        try:
            claimed = services.claim(test.pk)
        finally:
            client.reset_caches()
        assert claimed is not None and claimed.status == "invoking"
        test.refresh_from_db()
        assert (test.status, test.sts_ms, test.credentials_cached, test.attempts) == (
            "invoking",
            0,
            True,
            1,
        )
        assert test.assumed_role_arn == held.assumed_role_arn
        assert test.session_name.endswith(f"t{test.pk}") and test.worker
        assert services.claim(test.pk) is None  # claimed once
