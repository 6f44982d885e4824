"""The worker's tasks: each calls a service. Services never import this module back."""

from celery import shared_task
from celery.signals import worker_process_init, worker_ready

from integrations import runs, services
from integrations.models import ConnectionTest


@shared_task(acks_late=True, ignore_result=True)
def run_connection_test(test_id: int) -> None:
    services.run_test(test_id)


@shared_task(ignore_result=True)
def reap_stale_tests() -> int:
    return services.reap_stale_tests()


@shared_task(ignore_result=True)
def run_health_canary() -> int:
    return services.run_canary()


runs.register_task(ConnectionTest, run_connection_test)


@worker_ready.connect
@worker_process_init.connect
def _start_test_heartbeats(**_: object) -> None:
    """Each worker process beats for the tests it runs and ends those whose worker stopped.

    The apps' ready() loaded every tasks module, so every kind of test is registered.
    """
    runs.heartbeats.start()
