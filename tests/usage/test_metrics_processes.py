"""/metrics under two gunicorn processes sharing PROMETHEUS_MULTIPROC_DIR adds up both."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from prompts_library.models import ApiToken
from tests.processes import Session, WebServer
from tests.prompts.fixtures import make_prompt
from usage import journal
from usage.models import CallRecord

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "metrics-secret-for-processes"


@pytest.fixture
def two_webs(tmp_path, worker_env):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**worker_env, "PROMETHEUS_MULTIPROC_DIR": str(folder), "METRICS_TOKEN": SECRET}
    webs = [WebServer(env, tmp_path / f"web-{i}.log").start() for i in range(2)]
    yield webs
    for web in webs:
        web.stop()


def test_its_counters_add_up_the_calls_of_every_process(two_webs, sandbox):
    prompt = make_prompt()
    _, token = ApiToken.issue("backend", all_prompts=True)
    for i in range(7):
        reply = Session(two_webs[i % 2].url).post(
            f"/api/v1/prompts/{prompt.slug}/invoke",
            json.dumps({"question": "q", "max_tokens": 5}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert reply.status == 200
    scraped = Session(two_webs[0].url).get(
        "/metrics", headers={"Authorization": f"Bearer {SECRET}"}
    )
    assert scraped.status == 200
    text = scraped.text
    calls = sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "console_model_calls_total" and s.labels["kind"] == "invoke_api"
    )
    assert journal.settle(5)
    assert calls == CallRecord.objects.filter(kind="invoke_api").count() == 7
