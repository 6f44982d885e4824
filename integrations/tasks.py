from celery import shared_task

from integrations import services


@shared_task(acks_late=True, ignore_result=True)
def run_connection_test(test_id: int) -> None:
    services.run_test(test_id)


@shared_task(ignore_result=True)
def reap_stale_tests() -> int:
    return services.reap_stale_tests()


@shared_task(ignore_result=True)
def run_health_canary() -> int:
    return services.run_canary()
