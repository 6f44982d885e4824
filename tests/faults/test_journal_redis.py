"""The usage journal when Redis stops: records waiting in it are kept (Redis's append-only
file, as docker-compose runs it) and drained when it returns; calls made while it is away are
written directly. Every call is on record once."""

from __future__ import annotations

import json
import shutil

import pytest
import redis as redis_py
from django.db import connection

from prompts_library.models import ApiToken
from tests.faults.conftest import wait_until
from tests.processes import PrivateRedis, Session, WebServer
from tests.prompts.fixtures import make_prompt
from usage.models import CallRecord, HourlyRollup

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the journal is PostgreSQL's"),
]


def invoke(web: WebServer, slug: str, token: str) -> int:
    return (
        Session(web.url)
        .post(
            f"/api/v1/prompts/{slug}/invoke",
            json.dumps({"question": "q", "max_tokens": 5}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        .status
    )


def test_records_in_the_journal_survive_a_redis_restart_and_none_is_lost(
    tmp_path, worker_env, sandbox
):
    redis = PrivateRedis(tmp_path, appendonly=True).start()
    queue = f"journal-{redis.port}"
    env = {
        **worker_env,
        "REDIS_URL": redis.url,
        "CELERY_QUEUE": queue,
        "CACHE_KEY_PREFIX": queue,
        "REDIS_RETRY_SECONDS": "1",
        "USAGE_JOURNAL_IDLE_SECONDS": "0.5",
    }
    # The drain lock, held by the test until Redis has restarted, keeps the first records in
    # the journal when Redis stops (the key as the web process names it: its cache prefix).
    lock = f"{queue}:1:usage:{connection.settings_dict['NAME']}:journal:lock"
    private = redis_py.Redis.from_url(redis.url)
    assert private.set(lock, "test", px=120_000)
    web = WebServer(env, tmp_path / "web.log").start()
    try:
        prompt = make_prompt()
        token = ApiToken.issue("backend", all_prompts=True)[1]
        assert [invoke(web, prompt.slug, token) for _ in range(3)] == [200] * 3
        assert CallRecord.objects.count() == 0  # in the journal, not yet drained

        redis.stop()  # SIGTERM: Redis writes its append-only file and exits
        # Without Redis, calls are written by themselves.
        assert [invoke(web, prompt.slug, token) for _ in range(2)] == [200] * 2
        wait_until(lambda: CallRecord.objects.count() == 2, 10, "the direct records")
        assert not CallRecord.objects.exclude(journal_id=None).exists()

        redis.start()  # same port, same folder: the journal is back
        private = redis_py.Redis.from_url(redis.url)
        assert private.llen(lock.removesuffix(":lock")) == 3
        private.delete(lock)
        wait_until(lambda: CallRecord.objects.count() == 5, 20, "the journal's records")
        assert CallRecord.objects.exclude(journal_id=None).count() == 3
        assert HourlyRollup.objects.get().calls == 5
        assert "Internal Server Error" not in web.log_path.read_text()
    finally:
        web.stop()
        redis.stop()
