"""The broker is unreachable when Test is clicked, then comes back: no restart needed."""

from __future__ import annotations

import pytest

from integrations.models import BedrockModel, ConnectionTest
from tests.conftest import wait_for_test
from tests.integrations.helpers import form_data

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HTMX = {"HTTP_HX_REQUEST": "true"}
DEAD_BROKER = "redis://127.0.0.1:1/0"


def _use_broker(app, url: str, transport_options: dict) -> None:
    """Point the web process's Celery app at another broker, dropping pooled connections."""
    app.conf.broker_url = url
    app.conf.broker_transport_options = transport_options
    # kombu keeps one pool per broker URL: drop our references, never close the shared pools.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def dead_broker():
    from config.celery import app

    saved = (app.conf.broker_url, dict(app.conf.broker_transport_options or {}))
    saved_timeout = app.conf.broker_connection_timeout
    saved_policy = app.conf.task_publish_retry_policy

    def kill():
        app.conf.broker_connection_timeout = 1
        app.conf.task_publish_retry_policy = {
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.1,
            "interval_max": 0.1,
        }
        _use_broker(app, DEAD_BROKER, {"max_retries": 1})

    def revive():
        app.conf.broker_connection_timeout = saved_timeout
        app.conf.task_publish_retry_policy = saved_policy
        _use_broker(app, saved[0], saved[1])

    yield kill, revive
    revive()


def test_a_dead_broker_keeps_the_form_saves_nothing_and_recovers(
    alice_client, sandbox, start_worker, dead_broker
):
    kill, revive = dead_broker
    start_worker()
    kill()
    r = alice_client.post("/integrations/test/", form_data(), **HTMX)
    assert r.status_code == 200
    assert "The task queue is unavailable" in r.text
    assert "your values are still in the form" in r.text
    # Only the outcome area is swapped (hx-target="#test-result"): the form stays as typed.
    assert "<form" not in r.text
    # Nothing half-way: no integration, and the one recorded test is ended with the reason.
    assert not BedrockModel.objects.exists()
    test = ConnectionTest.objects.get()
    assert (test.status, test.failed_step, test.error_code) == (
        "failed",
        "queue",
        "QueueUnavailable",
    )
    assert not ConnectionTest.objects.exclude(status__in=ConnectionTest.TERMINAL).exists()

    revive()
    r = alice_client.post("/integrations/test/", form_data(), **HTMX)
    assert "The task queue is unavailable" not in r.text
    again = ConnectionTest.objects.exclude(pk=test.pk).get()
    done = wait_for_test(again.pk)
    assert done.status == "succeeded", (done.error_code, done.error_message)
