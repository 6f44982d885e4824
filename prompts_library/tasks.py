"""The worker's tasks: each calls a service. Services never import this module back."""

from celery import shared_task

from integrations import runs
from prompts_library import services
from prompts_library.models import PromptTest


@shared_task(acks_late=True, ignore_result=True)
def run_prompt_test(test_id: int) -> None:
    services.run_test(test_id)


runs.register_task(PromptTest, run_prompt_test)
