from django.apps import AppConfig
from django.core import checks


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Bedrock integrations"

    def ready(self) -> None:
        from integrations.checks import extra_aws_endpoints

        checks.register(extra_aws_endpoints, checks.Tags.security)
        # Registers the tasks that run this app's tests: services enqueue through runs.
        from integrations import tasks  # noqa: F401
