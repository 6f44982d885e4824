from bedrock import families
from sandbox import DEMO_EXTERNAL_ID, DEMO_MODEL_ID, DEMO_ROLE_ARN
from tests.conftest import SANDBOX_URL


def form_data(**overrides):
    data = {
        "provider_name": "Bedrock Anthropic",
        "model_name": "Haiku",
        "role_arn": DEMO_ROLE_ARN,
        "sts_endpoint": SANDBOX_URL,
        "external_id": DEMO_EXTERNAL_ID,
        "model_id": DEMO_MODEL_ID,
        "endpoint": SANDBOX_URL,
        "request_json": families.default_request_json(families.FAMILIES["anthropic"]),
        "header_name": [],
        "header_value": [],
        "header_keep": [],
    }
    data.update(overrides)
    return data


def fresh_role(sandbox, models=("*",)):
    """A role no worker has cached credentials for yet."""
    import uuid

    arn = f"arn:aws:iam::111122223333:role/Test{uuid.uuid4().hex[:12]}"
    external_id = f"ext-{uuid.uuid4().hex}"
    sandbox.state.add_role(arn, external_id, models=list(models))
    return {"role_arn": arn, "external_id": external_id}
