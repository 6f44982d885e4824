"""PostgreSQL stopped and started again under a running console and worker: both recover.

The cluster is the test's own (initdb + pg_ctl in a temporary folder, on a free port), with its
own gunicorn and worker: the machine's shared PostgreSQL is never touched.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import QUEUE, TEST_ENV, Worker
from tests.faults.conftest import wait_until
from tests.integrations.helpers import form_data
from tests.processes import PrivatePostgres, Session, WebServer, manage

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(not PrivatePostgres.available(), reason="needs PostgreSQL 15's initdb"),
]

HTMX = {"HX-Request": "true"}
FORM = form_data(model_name="Haiku on a private cluster")


def _create_operator(env: dict[str, str]) -> tuple[str, str]:
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.create_superuser('operator', 'op@example.org', 'operator-pass-1')",
    )
    return "operator", "operator-pass-1"


def _latest_test(cluster: PrivatePostgres) -> tuple[int, str] | None:
    import psycopg

    with psycopg.connect(cluster.url(), connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT id, status FROM integrations_connectiontest ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return (row[0], row[1]) if row else None


def _count_tests(cluster: PrivatePostgres) -> int:
    import psycopg

    with psycopg.connect(cluster.url(), connect_timeout=3) as conn:
        row = conn.execute("SELECT count(*) FROM integrations_connectiontest").fetchone()
    return row[0] if row else 0


def _succeeded(cluster: PrivatePostgres, after: int) -> bool:
    latest = _latest_test(cluster)
    return latest is not None and latest[0] > after and latest[1] == "succeeded"


def test_web_and_worker_recover_from_a_postgresql_restart(tmp_path, sandbox):
    cluster = PrivatePostgres().init().start()
    web = None
    worker = None
    try:
        cluster.create_database()
        queue = f"{QUEUE}-pg-{cluster.port}"
        env = {
            **os.environ,
            **TEST_ENV,
            "DATABASE_URL": cluster.url(),
            "CONSOLE_VAR_DIR": str(tmp_path / "var"),
            "CELERY_QUEUE": queue,
            "CACHE_KEY_PREFIX": queue,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_POOL_TIMEOUT": "3",
        }
        manage(env, "migrate", "--no-input")
        user = _create_operator(env)
        worker = Worker(tmp_path / "worker.log", env, 4).start()
        web = WebServer(env, tmp_path / "web.log").start()
        browser = Session(web.url)
        browser.login(*user)

        assert browser.post("/integrations/test/", FORM, headers=HTMX).status == 200
        wait_until(lambda: _succeeded(cluster, 0), 30, "the first test succeeded")
        first = _latest_test(cluster)
        assert first is not None

        cluster.stop()
        # While it is down: a page says so (503, try again), never a server error.
        down = browser.get("/")
        assert down.status == 503, down.text[:500]
        assert "Temporarily unavailable" in down.text and down.headers.get("Retry-After")
        api = browser.post(
            "/api/v1/prompts/any/invoke",
            b"{}",
            headers={"Authorization": "Bearer bcp_x", "Content-Type": "application/json"},
        )
        assert api.status == 503 and api.json()["error"]["code"] == "unavailable"
        cluster.start()

        # The same web process and the same worker, neither restarted.
        wait_until(lambda: browser.get("/").status == 200, 30, "the console answers again")
        r = browser.post("/integrations/test/", FORM, headers=HTMX)
        assert r.status == 200 and "Not tested" not in r.text, r.text[:500]
        wait_until(lambda: _succeeded(cluster, first[0]), 60, "a test ran after the restart")
        assert _count_tests(cluster) == 2
        assert worker.proc is not None and worker.proc.poll() is None
        assert web.proc is not None and web.proc.poll() is None
    finally:
        if web is not None:
            web.stop()
        if worker is not None:
            worker.stop()
        cluster.remove()
