"""The Test button: field validation, then AssumeRole + InvokeModel on the real worker."""

import json

import pytest

from audit.models import AuditEvent
from integrations.models import ConnectionTest
from tests.conftest import wait_for_test
from tests.integrations.fixtures import make_integration
from tests.integrations.helpers import form_data, fresh_role

HTMX = {"HTTP_HX_REQUEST": "true"}


def post_test(client, **overrides):
    return client.post("/integrations/test/", form_data(**overrides), **HTMX)


@pytest.mark.django_db(transaction=True)
class TestWithWorker:
    def test_it_assumes_the_role_and_invokes_the_model(self, alice_client, sandbox, celery_worker):
        r = post_test(alice_client, **fresh_role(sandbox))
        assert r.status_code == 200
        test = ConnectionTest.objects.get()
        assert f'sse-connect="/integrations/tests/{test.pk}/events/?seen=' in r.text
        done = wait_for_test(test.pk)
        assert done.status == "succeeded", (done.error_code, done.error_message)
        assert done.output_text.startswith("Hello from the Bedrock sandbox. You said: Hi")
        assert done.http_status == 200
        assert done.request_id
        assert done.sts_ms is not None and done.invoke_ms is not None
        assert done.input_tokens and done.output_tokens
        assert json.loads(done.raw_response)["type"] == "message"
        assert "alice" in done.session_name and "new" in done.session_name
        assert done.assumed_role_arn.startswith("arn:aws:sts::111122223333:assumed-role/")
        assert sandbox.state.stats()["assume_role_calls"] == 1

    def test_it_shows_success_with_output_and_latencies(self, alice_client, sandbox, celery_worker):
        post_test(alice_client)
        test = wait_for_test(ConnectionTest.objects.get().pk)
        r = alice_client.get(f"/integrations/tests/{test.pk}/?for_form=1", **HTMX)
        assert "Success" in r.text
        assert "Hello from the Bedrock sandbox" in r.text
        assert f"{test.invoke_ms} ms" in r.text
        assert 'id="save-button"' in r.text and 'data-ready="1"' in r.text
        # polled from another page (the integration's), the answer carries no Save button
        r = alice_client.get(f"/integrations/tests/{test.pk}/", **HTMX)
        assert "Success" in r.text and 'id="save-button"' not in r.text

    def test_a_wrong_external_id_fails_at_sts_with_the_trust_policy_hint(
        self, alice_client, sandbox, celery_worker
    ):
        post_test(alice_client, external_id="not-the-right-one")
        test = wait_for_test(ConnectionTest.objects.get().pk)
        assert test.status == "failed"
        assert test.failed_step == "sts"
        assert test.error_code == "AccessDenied"
        assert "trust policy" in test.hint and "not-the-right-one" in test.hint
        assert test.principal_arn == "arn:aws:iam::123456789012:user/bedrock-console-platform"
        r = alice_client.get(f"/integrations/tests/{test.pk}/?for_form=1", **HTMX)
        assert "Failed" in r.text and "STS AssumeRole" in r.text
        assert test.principal_arn in r.text
        assert 'data-ready="0"' in r.text

    def test_a_model_the_role_may_not_invoke_fails_with_the_permission_hint(
        self, alice_client, sandbox, celery_worker
    ):
        post_test(alice_client, **fresh_role(sandbox, models=["amazon.titan-*"]))
        test = wait_for_test(ConnectionTest.objects.get().pk)
        assert (test.failed_step, test.error_code) == ("invoke", "AccessDeniedException")
        assert "permission policy" in test.hint
        assert test.http_status == 403

    def test_on_demand_throughput_suggests_an_inference_profile(
        self, alice_client, sandbox, celery_worker
    ):
        post_test(alice_client, model_id="anthropic.claude-3-7-sonnet-20250219-v1:0")
        test = wait_for_test(ConnectionTest.objects.get().pk)
        assert test.error_code == "ValidationException"
        assert "inference profile" in test.hint

    def test_headers_are_forwarded_and_signed(self, alice_client, sandbox, celery_worker):
        post_test(
            alice_client,
            header_name=["X-Tenant", "X-Api-Key"],
            header_value=["acme", "s3cr3t-header-value"],
            header_secret=["1"],
            header_keep=["", ""],
        )
        test = wait_for_test(ConnectionTest.objects.get().pk)
        assert test.status == "succeeded"
        seen = sandbox.state.requests()[-1]
        signed = {h.lower() for h in seen["signed_headers"]}
        assert {"x-tenant", "x-api-key"} <= signed
        assert "s3cr3t-header-value" not in json.dumps(test.headers)

    def test_concurrent_tests_of_one_role_assume_it_once(
        self, alice_client, sandbox, celery_worker
    ):
        role = fresh_role(sandbox)
        for _ in range(6):
            post_test(alice_client, **role)
        for test in ConnectionTest.objects.all():
            assert wait_for_test(test.pk).status == "succeeded"
        assert sandbox.state.stats()["assume_role_calls"] == 1
        assert ConnectionTest.objects.filter(credentials_cached=True).count() == 5

    def test_a_result_says_whether_credentials_were_assumed_or_reused(
        self, alice_client, sandbox, celery_worker
    ):
        role = fresh_role(sandbox)
        post_test(alice_client, **role)
        first = wait_for_test(ConnectionTest.objects.get().pk)
        post_test(alice_client, **role)
        second = wait_for_test(ConnectionTest.objects.exclude(pk=first.pk).get().pk)
        assert (first.credentials_cached, second.credentials_cached) == (False, True)
        assert first.credentials_assumed_at is not None
        assert second.credentials_assumed_at == first.credentials_assumed_at
        # the reused credentials are the first test's session, not the second test's
        assert second.credentials_session == first.session_name != second.session_name
        assert second.credentials_role == role["role_arn"]

        r = alice_client.get(f"/integrations/tests/{first.pk}/?for_form=1", **HTMX)
        assert "Assumed for this test" in r.text and "Reused" not in r.text
        assert first.session_name in r.text
        r = alice_client.get(f"/integrations/tests/{second.pk}/?for_form=1", **HTMX)
        when = first.credentials_assumed_at.strftime("%Y-%m-%d %H:%M:%S")
        assert f"Reused: assumed at {when} UTC by an earlier call" in r.text
        assert f"session <code>{first.session_name}</code>" in r.text
        assert f"role <code>{role['role_arn']}</code>" in r.text

        finished = {
            e.changes["test_id"]: e.changes
            for e in AuditEvent.objects.filter(action=AuditEvent.Action.TEST_FINISHED)
        }
        assert finished[first.pk]["credentials"] == "assumed"
        assert finished[second.pk]["credentials"] == "reused"
        assert finished[second.pk]["assumed_role_arn"] == first.assumed_role_arn
        assert finished[second.pk]["credentials_assumed_at"] == (
            first.credentials_assumed_at.isoformat()
        )


@pytest.mark.django_db
class TestValidation:
    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("role_arn", "arn:aws:iam::12345:role/x", "12 digits"),
            ("role_arn", "arn:aws:iam::123456789012:user/x", "role"),
            ("sts_endpoint", "http://sts.us-east-1.amazonaws.com", "https"),
            ("sts_endpoint", "https://169.254.169.254", "STS"),
            ("endpoint", "https://bedrock-runtime.us-east-1.amazonaws.com@evil.example", "@"),
            ("endpoint", "https://evil.example", "bedrock-runtime"),
            ("model_id", "../../etc/passwd", ""),
            ("request_json", "[1, 2]", "JSON object"),
            ("request_json", "{not json", "not valid JSON"),
            ("request_json", '{"max_tokens": 1e999}', "1e999 is out of range"),
            ("request_json", "[" * 5000 + "]" * 5000, "nested more than 64 levels deep"),
            ("provider_name", "", "required"),
        ],
    )
    def test_bad_input_is_explained_beside_the_field_and_nothing_is_stored(
        self, alice_client, field, value, message
    ):
        r = post_test(alice_client, **{field: value})
        assert r.status_code == 200
        assert ConnectionTest.objects.count() == 0
        errors = r.text.split(f'id="errors-{field}" hx-swap-oob="true">')[1].split("</div>")[0]
        assert 'class="error"' in errors
        assert message.lower() in errors.lower()

    def test_a_test_of_a_saved_integration_is_filed_under_it(self, alice_client, alice):
        integration = make_integration(name="Saved", tested=False)
        data = form_data(integration=str(integration.pk), model_name="Saved")
        r = alice_client.post("/integrations/test/", data, **HTMX)
        assert r.status_code == 200
        test = ConnectionTest.objects.get()
        assert (test.integration, test.created_by) == (integration, alice)
        started = AuditEvent.objects.filter(action=AuditEvent.Action.TEST_STARTED).last()
        assert (started.object_id, started.object_repr) == (str(integration.pk), str(integration))

    def test_a_test_of_an_integration_that_is_gone_is_not_found(self, alice_client):
        integration = make_integration(name="Gone", tested=False)
        gone = integration.pk
        integration.delete()
        r = alice_client.post("/integrations/test/", form_data(integration=str(gone)), **HTMX)
        assert r.status_code == 404
        assert ConnectionTest.objects.count() == 0

    def test_it_refuses_oversized_request_json(self, alice_client):
        body = json.dumps({"messages": "x" * (1024 * 1024)})
        r = post_test(alice_client, request_json=body)
        assert "larger than 1 MB" in r.text
        assert ConnectionTest.objects.count() == 0

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            ("Authorization", "x", "Authorization"),
            ("Host", "x", "Host"),
            ("X-Amz-Date", "x", "X-Amz"),
            ("Bad Name", "x", ""),
            ("X-Ok", "line\r\nInjected: 1", ""),
            ("X-Tenant", "   ", "Enter a value for this header."),
        ],
    )
    def test_it_refuses_bad_headers(self, alice_client, name, value, message):
        r = post_test(alice_client, header_name=[name], header_value=[value], header_keep=[""])
        assert ConnectionTest.objects.count() == 0
        errors = r.text.split('id="errors-header-0" hx-swap-oob="true">')[1].split("</div>")[0]
        assert 'class="error"' in errors and message in errors
        assert "Injected" not in errors

    def test_it_requires_a_role(self, client, charlie):
        client.force_login(charlie)
        r = post_test(client)
        assert r.status_code == 403
        assert ConnectionTest.objects.count() == 0
