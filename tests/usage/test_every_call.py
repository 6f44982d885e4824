"""Through the real worker, the sandbox and the Invoke API: N calls make exactly N records, and
the usage page's totals are theirs."""

import json

import pytest
from django.db.models import Count

from integrations import services as integrations
from integrations.models import ConnectionTest
from prompts_library import services as prompts
from prompts_library.models import ApiToken, PromptTest
from tests.conftest import wait_for_test
from tests.prompts.fixtures import make_prompt
from usage import journal
from usage.models import CallRecord, HourlyRollup

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

bedrock_invoke = pytest.importorskip(
    "bedrock.invoke", reason="the invocation core (bedrock.invoke) reports the calls"
)


def test_n_calls_of_every_kind_make_n_records(alice, alice_client, sandbox, celery_worker):
    prompt = make_prompt(alice)
    _, token = ApiToken.issue("backend", alice, all_prompts=True)
    config = prompt.integration.configuration()

    connection_tests = [
        integrations.start_test(config, alice, prompt.integration) for _ in range(3)
    ]
    prompt_tests = [prompts.start_test(prompt, prompt.published_version, alice) for _ in range(2)]
    answers = [
        alice_client.post(
            f"/api/v1/prompts/{prompt.slug}/invoke",
            json.dumps({"question": f"q{i}", "max_tokens": 5}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        ).status_code
        for i in range(4)
    ]
    sandbox.state.add_fault("invoke", "error", code="AccessDeniedException", status=403, times=1)
    failed = alice_client.post(
        f"/api/v1/prompts/{prompt.slug}/invoke",
        json.dumps({"question": "q", "max_tokens": 5}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    for t in connection_tests:
        assert wait_for_test(t.pk).status == ConnectionTest.Status.SUCCEEDED
    for t in prompt_tests:
        assert wait_for_test(t.pk, model=PromptTest).status == PromptTest.Status.SUCCEEDED
    assert answers == [200] * 4 and failed.status_code == 502

    assert journal.settle(5)  # the records pushed by the web process and the worker
    kinds = dict(CallRecord.objects.values_list("kind").annotate(n=Count("id")))
    assert kinds == {"connection_test": 3, "prompt_test": 2, "invoke_api": 5}
    api = CallRecord.objects.filter(kind="invoke_api")
    assert api.filter(ok=True).count() == 4
    assert api.get(ok=False).error_code == "AccessDeniedException"
    assert set(api.values_list("prompt_id", "version_id", "feature")) == {
        (prompt.pk, prompt.published_version_id, "Co-pilot")
    }
    assert set(
        CallRecord.objects.filter(kind="connection_test").values_list("test_id", flat=True)
    ) == {t.pk for t in connection_tests}
    ok = CallRecord.objects.filter(ok=True)
    assert all(r.input_tokens and r.output_tokens and r.total_ms is not None for r in ok)
    assert sum(HourlyRollup.objects.values_list("calls", flat=True)) == 10

    html = alice_client.get("/usage/").content.decode()
    assert '<strong id="total-calls">10</strong>' in html
    assert '<strong id="total-errors">1</strong>' in html
