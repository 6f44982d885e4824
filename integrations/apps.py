from django.apps import AppConfig
from django.core import checks


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Bedrock integrations"

    def ready(self) -> None:
        from integrations.checks import extra_aws_endpoints

        checks.register(extra_aws_endpoints, checks.Tags.security)
