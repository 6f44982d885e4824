import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
@worker_process_init.connect
def _start_test_heartbeats(**_: object) -> None:
    """Each worker process beats for the tests it runs and ends those whose worker stopped."""
    import integrations.services  # noqa: F401  (registers the test models)
    import prompts_library.services  # noqa: F401
    from integrations import runs

    runs.heartbeats.start()
