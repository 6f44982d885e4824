"""Cross-region inference profiles end to end: the setup page's policy for a profile, and a Test
on the real worker against the sandbox with a role that has exactly that policy."""

import html
import json
import re
import uuid

import pytest

from bedrock import families
from integrations.models import ConnectionTest
from tests.conftest import wait_for_test
from tests.integrations.helpers import form_data

HTMX = {"HTTP_HX_REQUEST": "true"}
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-lite-v1:0"
ACCOUNT = "111122223333"
US_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{HAIKU}"
# The sandbox's endpoint names no region: a call is signed for the ARN's region.
EU_ARN = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{HAIKU}"


def step1(client, **values):
    """The setup page's step 1 for these values: (permission policy, model summary text)."""
    r = client.post("/integrations/assist/", form_data(**values), **HTMX)
    assert r.status_code == 200
    found = re.search(r'<pre id="permission-policy" class="code">(.*?)</pre>', r.text, re.S)
    assert found, r.text
    summary = re.search(r'<div id="model-summary">(.*?)</div>', r.text, re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", summary.group(1))) if summary else ""
    return json.loads(html.unescape(found.group(1))), html.unescape(text).strip()


def role_with(sandbox, policy):
    """A role (no worker has its credentials yet) whose permissions are exactly ``policy``."""
    arn = f"arn:aws:iam::{ACCOUNT}:role/Profile{uuid.uuid4().hex[:12]}"
    external_id = f"ext-{uuid.uuid4().hex}"
    sandbox.state.add_role(arn, external_id, policy=policy)
    return {"role_arn": arn, "external_id": external_id}


def run_test(client, stream=False, **values):
    data = form_data(**values)
    if stream:
        data["stream"] = "1"
    r = client.post("/integrations/test/", data, **HTMX)
    assert r.status_code == 200
    assert ConnectionTest.objects.count() == 1, r.text
    return wait_for_test(ConnectionTest.objects.get().pk)


@pytest.mark.django_db
class TestStepOne:
    def test_a_us_profile_shows_the_profile_and_the_model_in_each_region(self, alice_client):
        role = f"arn:aws:iam::{ACCOUNT}:role/BedrockAccess"
        policy, summary = step1(alice_client, model_id=f"us.{HAIKU}", role_arn=role)
        profile = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{HAIKU}"
        first, models = policy["Statement"]
        assert first["Resource"] == [profile]
        assert first["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        assert models["Resource"] == [
            f"arn:aws:bedrock:{r}::foundation-model/{HAIKU}"
            for r in ("us-east-1", "us-east-2", "us-west-2")
        ]
        assert models["Condition"] == {"StringEquals": {"bedrock:InferenceProfileArn": profile}}
        assert f"us.{HAIKU} is a us. geography cross-region inference profile of {HAIKU}" in (
            summary
        )
        assert "an Anthropic Claude (Messages) model" in summary
        assert "Call it in us-east-1" in summary
        assert "routes each call to one of us-east-1, us-east-2, us-west-2" in summary

    def test_a_global_profile_shows_the_region_less_model_arn(self, alice_client):
        policy, summary = step1(
            alice_client,
            model_id=f"global.{NOVA}",
            endpoint="https://bedrock-runtime.eu-west-1.amazonaws.com",
        )
        resources = [s["Resource"] for s in policy["Statement"]]
        assert resources == [
            [f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/global.{NOVA}"],
            [f"arn:aws:bedrock:eu-west-1::foundation-model/{NOVA}"],
            [f"arn:aws:bedrock:::foundation-model/{NOVA}"],
        ]
        assert policy["Statement"][2]["Condition"]["StringEquals"]["aws:RequestedRegion"] == (
            "unspecified"
        )
        assert "global cross-region inference profile" in summary
        assert "an Amazon Nova model" in summary
        assert "any commercial AWS region" in summary

    def test_an_eu_profile_suggests_an_endpoint_in_its_geography(self, alice_client):
        r = alice_client.post(
            "/integrations/assist/",
            form_data(model_id=f"eu.{HAIKU}", endpoint_auto="1"),
            **HTMX,
        )
        fields = json.loads(r.headers["HX-Trigger"])["consoleSuggest"]["fields"]
        assert fields["endpoint"] == "https://bedrock-runtime.eu-central-1.amazonaws.com"
        # Typed by the admin: not replaced, but a warning says the region is outside the geography.
        r = alice_client.post(
            "/integrations/assist/",
            form_data(
                model_id=f"eu.{HAIKU}", endpoint="https://bedrock-runtime.us-east-1.amazonaws.com"
            ),
            **HTMX,
        )
        assert "endpoint" not in json.loads(r.headers["HX-Trigger"])["consoleSuggest"]["fields"]
        assert "A eu. inference profile is called from a region of its geography" in r.text
        policy, _ = step1(alice_client, model_id=f"eu.{HAIKU}")
        assert policy["Statement"][0]["Resource"][0].startswith("arn:aws:bedrock:eu-central-1:")

    def test_an_inference_profile_arn_keeps_its_own_region_and_account(self, alice_client):
        policy, summary = step1(alice_client, model_id=EU_ARN)
        assert policy["Statement"][0]["Resource"] == [EU_ARN]
        assert "Call it in eu-west-1" in summary


@pytest.mark.django_db(transaction=True)
class TestWithWorker:
    @pytest.mark.parametrize("model_id", [f"us.{HAIKU}", f"global.{HAIKU}", US_ARN, EU_ARN])
    def test_the_policy_step_one_shows_is_enough_for_a_test(
        self, alice_client, sandbox, celery_worker, model_id
    ):
        policy, _ = step1(
            alice_client, model_id=model_id, role_arn=f"arn:aws:iam::{ACCOUNT}:role/X"
        )
        done = run_test(alice_client, model_id=model_id, **role_with(sandbox, policy))
        assert done.status == "succeeded", (done.error_code, done.error_message)
        # The family of the model behind the profile reads the answer.
        assert done.output_text.startswith("Hello from the Bedrock sandbox. You said: Hi")
        assert done.input_tokens and done.output_tokens
        [call] = [r for r in sandbox.state.requests() if r["operation"] == "InvokeModel"]
        assert call["model_id"] == model_id

    def test_streaming_and_converse_through_a_profile(self, alice_client, sandbox, celery_worker):
        model_id = f"us.{NOVA}"
        policy, _ = step1(
            alice_client, model_id=model_id, role_arn=f"arn:aws:iam::{ACCOUNT}:role/X"
        )
        role = role_with(sandbox, policy)
        converse = {
            "request_format": "converse",
            "request_json": families.converse_request_json(),
        }
        for stream, values, operation in (
            (True, {}, "InvokeModelWithResponseStream"),
            (False, converse, "Converse"),
            (True, converse, "ConverseStream"),
        ):
            ConnectionTest.objects.all().delete()
            nova_body = families.default_request_json(families.FAMILIES["nova"])
            values = {"request_json": nova_body, **values}
            done = run_test(alice_client, stream, model_id=model_id, **role, **values)
            assert done.status == "succeeded", (operation, done.error_code, done.error_message)
            assert done.output_text.startswith("Hello from the Bedrock sandbox.")
            assert sandbox.state.requests()[-1]["operation"] == operation
            assert sandbox.state.requests()[-1]["model_id"] == model_id

    def test_a_policy_without_a_region_the_profile_routes_to_fails_naming_it(
        self, alice_client, sandbox, celery_worker
    ):
        policy, _ = step1(alice_client, model_id=US_ARN)
        missing = f"arn:aws:bedrock:us-east-2::foundation-model/{HAIKU}"
        policy["Statement"][1]["Resource"].remove(missing)
        done = run_test(alice_client, model_id=US_ARN, **role_with(sandbox, policy))
        assert (done.status, done.failed_step) == ("failed", "invoke")
        assert done.error_code == "AccessDeniedException"
        assert missing in done.error_message
        assert "every region it routes to" in done.hint

    def test_a_profile_outside_the_endpoints_region_is_an_invalid_model_id(
        self, alice_client, sandbox, celery_worker
    ):
        # The sandbox's endpoint names no region: the call is signed for the console's own
        # region (us-east-1), where an eu. profile is not offered, as in AWS.
        done = run_test(alice_client, model_id=f"eu.{HAIKU}")
        assert done.error_code == "ValidationException"
        assert "region of its geography" in done.hint
