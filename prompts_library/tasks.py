from celery import shared_task

from prompts_library import services


@shared_task(acks_late=True, ignore_result=True)
def run_prompt_test(test_id: int) -> None:
    services.run_test(test_id)
