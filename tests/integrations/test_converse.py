"""The Converse request format on the setup form: prefill, Test, Save, the stored snapshot."""

import json

import pytest

from bedrock import families
from integrations.models import BedrockModel, ConnectionTest
from tests.conftest import wait_for_test
from tests.integrations.helpers import form_data

HTMX = {"HTTP_HX_REQUEST": "true"}
CONVERSE_JSON = families.converse_request_json()
NOVA = "amazon.nova-lite-v1:0"


def converse_data(**overrides):
    return form_data(request_format="converse", request_json=CONVERSE_JSON, **overrides)


def suggestion(client, **overrides):
    r = client.post("/integrations/assist/", form_data(**overrides), **HTMX)
    assert r.status_code == 200
    trigger = json.loads(r.headers.get("HX-Trigger", "{}"))
    return trigger.get("consoleSuggest", {}).get("fields", {}).get("request_json")


@pytest.mark.django_db
class TestPrefill:
    def test_it_offers_the_converse_example_for_an_untouched_body(self, alice_client):
        anthropic = families.default_request_json(families.FAMILIES["anthropic"])
        for current in ("", anthropic):
            got = suggestion(alice_client, request_format="converse", request_json=current)
            assert got == CONVERSE_JSON
        assert json.loads(CONVERSE_JSON)["messages"][0]["role"] == "user"

    def test_it_never_replaces_a_typed_body(self, alice_client):
        typed = '{"messages": [{"role": "user", "content": [{"text": "Mine"}]}]}'
        assert suggestion(alice_client, request_format="converse", request_json=typed) is None

    def test_back_to_invoke_model_the_untouched_example_becomes_the_family_body(self, alice_client):
        got = suggestion(alice_client, request_format="invoke_model", request_json=CONVERSE_JSON)
        assert got == families.default_request_json(families.FAMILIES["anthropic"])


@pytest.mark.django_db
def test_the_form_shows_the_request_format_choices(alice_client):
    r = alice_client.get("/integrations/new/")
    assert "Request format" in r.text
    assert "InvokeModel (model&#x27;s own JSON)" in r.text
    assert "Converse (same messages for every model)" in r.text


@pytest.mark.django_db
def test_a_body_that_is_not_a_converse_request_is_refused_beside_the_field(alice_client):
    data = form_data(request_format="converse")  # Anthropic's own JSON
    r = alice_client.post("/integrations/test/", data, **HTMX)
    assert "A Converse request has no field" in r.text
    assert ConnectionTest.objects.count() == 0


@pytest.mark.django_db(transaction=True)
class TestWithWorker:
    def test_a_converse_test_shows_text_stop_reason_and_usage(
        self, alice_client, sandbox, celery_worker
    ):
        alice_client.post("/integrations/test/", converse_data(model_id=NOVA), **HTMX)
        test = wait_for_test(ConnectionTest.objects.get().pk)
        assert test.status == "succeeded", (test.error_code, test.error_message)
        assert test.request_format == "converse"
        assert test.output_text == "Hello from the Bedrock sandbox. You said: Hello"
        assert test.stop_reason == "end_turn"
        assert test.input_tokens and test.output_tokens
        assert sandbox.state.requests()[-1]["operation"] == "Converse"
        r = alice_client.get(f"/integrations/tests/{test.pk}/?for_form=1", **HTMX)
        assert "Success" in r.text and "Converse" in r.text
        assert "Stop reason" in r.text and "end_turn" in r.text
        assert f"{test.input_tokens} in · {test.output_tokens} out" in r.text

    def test_converse_and_invoke_model_tests_of_the_same_model_both_succeed(
        self, alice_client, sandbox, celery_worker
    ):
        alice_client.post("/integrations/test/", form_data(), **HTMX)
        alice_client.post("/integrations/test/", converse_data(), **HTMX)
        invoke_model, converse = ConnectionTest.objects.order_by("pk")
        for test in (wait_for_test(invoke_model.pk), wait_for_test(converse.pk)):
            assert test.status == "succeeded", (test.error_code, test.error_message)
        assert invoke_model.fingerprint != converse.fingerprint

    def test_save_needs_a_passing_test_of_exactly_this_format(
        self, alice_client, sandbox, celery_worker
    ):
        # The same body under both formats: a test of one does not let the other be saved.
        body = json.dumps(
            {
                "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
                "inferenceConfig": {"maxTokens": 100},
            }
        )
        alice_client.post(
            "/integrations/test/", form_data(model_id=NOVA, request_json=body), **HTMX
        )
        wait_for_test(ConnectionTest.objects.get().pk)
        data = form_data(model_id=NOVA, request_json=body, request_format="converse")
        r = alice_client.post("/integrations/new/", data)
        assert r.status_code == 400 and "Run Test on exactly these values" in r.text
        alice_client.post("/integrations/test/", data, **HTMX)
        wait_for_test(ConnectionTest.objects.latest("pk").pk)
        r = alice_client.post("/integrations/new/", data)
        assert r.status_code == 302
        integration = BedrockModel.objects.get()
        assert integration.request_format == "converse" and integration.verified
        page = alice_client.get(f"/integrations/{integration.pk}/edit/")
        assert '<option value="converse" selected>' in page.text
