from django.utils import timezone

from bedrock import families
from integrations.models import (
    BedrockModel,
    Configuration,
    ConnectionTest,
    Header,
    Provider,
)
from sandbox import DEMO_EXTERNAL_ID, DEMO_MODEL_ID, DEMO_ROLE_ARN
from tests.conftest import SANDBOX_URL


def make_integration(
    provider="Bedrock Anthropic",
    name="Haiku",
    headers=(),
    tested=True,
    model_id=DEMO_MODEL_ID,
    role_arn=DEMO_ROLE_ARN,
    external_id=DEMO_EXTERNAL_ID,
) -> BedrockModel:
    config = Configuration(
        role_arn=role_arn,
        sts_endpoint=SANDBOX_URL,
        external_id=external_id,
        model_id=model_id,
        endpoint=SANDBOX_URL,
        headers=tuple(headers),
        request_json=families.default_request_json(families.FAMILIES["anthropic"]),
    )
    p, _ = Provider.objects.get_or_create(name=provider, defaults={"external_id": external_id})
    integration = BedrockModel(provider=p, name=name)
    integration.apply(config)
    integration.save()
    if tested:
        test = ConnectionTest.objects.create(
            integration=integration,
            status=ConnectionTest.Status.SUCCEEDED,
            fingerprint=integration.fingerprint,
            role_arn=config.role_arn,
            sts_endpoint=config.sts_endpoint,
            external_id=config.external_id,
            model_id=config.model_id,
            endpoint=config.endpoint,
            headers=integration.headers,
            request_json=config.request_json,
            output_text="Hello",
            finished=timezone.now(),
        )
        integration.last_test = test
        integration.last_success_at = test.finished
        integration.save(update_fields=["last_test", "last_success_at"])
    return integration


SECRET = "sekrit-header-value-123"
SECRET_HEADERS = (Header("X-Api-Key", SECRET, True), Header("X-Tenant", "acme", False))
