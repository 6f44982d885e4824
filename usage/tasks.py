from celery import shared_task

from usage import retention


@shared_task(ignore_result=True)
def apply_retention() -> dict[str, int]:
    return retention.apply()
