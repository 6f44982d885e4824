from celery import shared_task

from usage import journal, retention


@shared_task(ignore_result=True)
def apply_retention() -> dict[str, int]:
    return retention.apply()


@shared_task(ignore_result=True)
def drain_journal() -> int | None:
    return journal.drain(seconds=30.0)
