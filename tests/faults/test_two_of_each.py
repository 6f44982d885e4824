"""Two web processes and two workers on one PostgreSQL and one Redis behave as one console."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection

from integrations.models import ConnectionTest
from prompts_library import services as prompts
from prompts_library.models import ApiToken
from tests.faults.conftest import wait_until
from tests.faults.test_redis_down import web_user
from tests.integrations.helpers import form_data
from tests.processes import Session, WebServer
from tests.prompts.fixtures import content, make_prompt

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TESTS = 500
HTMX = {"HX-Request": "true"}
# The issue's bound for a change made in one web process to apply in another.
WITHIN = 1.0


@pytest.fixture
def two_of_each(tmp_path, worker_env, start_worker):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("runs on PostgreSQL and Redis")
    workers = [start_worker(concurrency=24), start_worker(concurrency=24)]
    webs = [WebServer(worker_env, tmp_path / f"web-{i}.log").start() for i in range(2)]
    yield webs, workers
    for web in webs:
        web.stop()


def _api(web: WebServer, slug: str, token: str) -> tuple[int, int | None]:
    reply = Session(web.url).post(
        f"/api/v1/prompts/{slug}/invoke",
        json.dumps({"question": "q", "max_tokens": 5}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    version = reply.json().get("prompt_version") if reply.status == 200 else None  # type: ignore[union-attr]
    return reply.status, version


def _until(predicate, what: str) -> float:
    """Seconds until predicate() holds; fails past WITHIN."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < WITHIN, f"not within {WITHIN}s: {what}"
    return time.monotonic() - started


def test_500_tests_over_two_workers_and_changes_seen_by_both_web_processes(
    two_of_each, sandbox, django_user_model
):
    webs, workers = two_of_each
    user = web_user(django_user_model)
    sessions = [Session(web.url) for web in webs]
    for session in sessions:
        session.login(*user)
    sandbox.state.set_config(invoke_delay_ms=50)
    form = form_data(model_name="Haiku times two")
    before = ConnectionTest.objects.count()
    invokes_before = sandbox.state.stats()["invoke_calls"]

    def click_test(i: int) -> int:
        return sessions[i % 2].post("/integrations/test/", form, headers=HTMX).status

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(click_test, range(TESTS))) == {200}
    rows = ConnectionTest.objects.order_by("pk")[before:]
    assert len(rows) == TESTS
    wait_until(
        lambda: not ConnectionTest.objects.exclude(status__in=ConnectionTest.TERMINAL).exists(),
        180,
        "every test ended",
    )
    rows = ConnectionTest.objects.filter(pk__in=[r.pk for r in rows])
    assert set(rows.values_list("status", flat=True)) == {"succeeded"}  # none lost
    assert set(rows.values_list("attempts", flat=True)) == {1}  # none claimed twice
    assert sandbox.state.stats()["invoke_calls"] - invokes_before == TESTS  # none run twice
    ran_on = {w: rows.filter(worker=w).count() for w in set(rows.values_list("worker", flat=True))}
    assert {w.rsplit(":", 1)[1] for w in ran_on} == {str(w.proc.pid) for w in workers}, ran_on

    # Changes made through one web process apply in the other within a second.
    sandbox.state.set_config(invoke_delay_ms=0)
    prompt = make_prompt()
    row, token = ApiToken.issue("backend", all_prompts=True)
    for web in webs:
        for _ in range(2):
            assert _api(web, prompt.slug, token) == (200, 1)  # cached in both

    a, b = sessions
    assert a.post(f"/prompts/tokens/{row.pk}/revoke/").status == 302
    took_b = _until(lambda: _api(webs[1], prompt.slug, token)[0] == 401, "B refuses the token")
    assert _api(webs[0], prompt.slug, token)[0] == 401

    token = ApiToken.issue("second", all_prompts=True)[1]
    for web in webs:
        assert _api(web, prompt.slug, token) == (200, 1)
    v2 = prompts.save_version(prompt, content(), None)
    assert b.post(f"/prompts/{prompt.pk}/versions/{v2.number}/publish/").status in (200, 302)
    _until(lambda: _api(webs[0], prompt.slug, token) == (200, 2), "A serves the publish")
    assert a.post(f"/prompts/{prompt.pk}/versions/1/rollback/").status in (200, 302)
    _until(lambda: _api(webs[1], prompt.slug, token) == (200, 3), "B serves the rollback")
    print(f"revocation refused by the other web process after {took_b * 1000:.0f} ms")
