"""A limit of R requests per minute holds across two web processes (gunicorn, PostgreSQL, Redis)."""

from __future__ import annotations

import json
import time

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from prompts_library.models import ApiToken
from tests.processes import Session, WebServer
from tests.prompts.fixtures import make_prompt
from usage import limits

pytestmark = pytest.mark.django_db(transaction=True)

R = 5


@pytest.fixture
def two_webs(tmp_path, worker_env):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("runs on PostgreSQL and Redis")
    webs = [WebServer(worker_env, tmp_path / f"web-{i}.log").start() for i in range(2)]
    yield webs
    for web in webs:
        web.stop()


def _invoke(web: WebServer, slug: str, token: str):
    return Session(web.url).post(
        f"/api/v1/prompts/{slug}/invoke",
        json.dumps({"question": "q", "max_tokens": 5}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


@pytest.mark.parametrize("last", [0, 1])
def test_r_per_minute_pass_over_two_processes_and_either_refuses_the_next(two_webs, sandbox, last):
    prompt = make_prompt()
    row, token = ApiToken.issue("backend", all_prompts=True)
    limits.do_set_limits(
        row, requests_per_minute=R, tokens_per_minute=None, monthly_budget_usd=None
    )
    if timezone.now().second > 45:  # all in one calendar minute
        time.sleep(61 - timezone.now().second)
    statuses = [_invoke(two_webs[i % 2], prompt.slug, token).status for i in range(R)]
    assert statuses == [200] * R
    refused = _invoke(two_webs[last], prompt.slug, token)
    assert refused.status == 429
    assert refused.json()["error"]["code"] == "rate_limited"  # type: ignore[index]
    assert refused.headers["X-RateLimit-Limit"] == str(R)
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.headers["Retry-After"]) >= 1
    assert _invoke(two_webs[1 - last], prompt.slug, token).status == 429
