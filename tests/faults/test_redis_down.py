"""Redis stopped under a running console (gunicorn) and worker, then started again.

The Redis is the test's own (a redis-server on a free port), never the machine's shared one.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from integrations.models import ConnectionTest
from prompts_library.models import ApiToken
from tests.conftest import wait_for_test
from tests.faults.conftest import wait_until
from tests.integrations.helpers import form_data
from tests.processes import PrivateRedis, Session, WebServer
from tests.prompts.fixtures import make_prompt

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
]

BANNER = "Background work is unavailable"
HTMX = {"HX-Request": "true"}
FORM = form_data(model_name="Haiku under faults")
PAGES = ["/", "/integrations/new/", "/prompts/", "/prompts/tokens/", "/admin/"]


def web_user(django_user_model, name: str = "operator", password: str = "operator-pass-1"):  # noqa: S107
    # The web process checks passwords with the default hashers: a PBKDF2 hash, cheaply made.
    encoded = PBKDF2PasswordHasher().encode(password, "saltsaltsalt", iterations=1000)
    django_user_model.objects.create(
        username=name, password=encoded, is_staff=True, is_superuser=True
    )
    return name, password


def invoke(web: WebServer, slug: str, token: str):
    return Session(web.url).post(
        f"/api/v1/prompts/{slug}/invoke",
        json.dumps({"question": "q", "max_tokens": 5}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


@pytest.fixture
def stack(tmp_path, worker_env, start_worker):
    """A private Redis with the console's web process and a worker on it."""
    redis = PrivateRedis(tmp_path).start()
    queue = f"redis-down-{redis.port}"
    env = {
        **worker_env,
        "REDIS_URL": redis.url,
        "CELERY_QUEUE": queue,
        "CACHE_KEY_PREFIX": queue,
        "REDIS_RETRY_SECONDS": "1",
    }
    worker = start_worker(**{k: env[k] for k in ("REDIS_URL", "CELERY_QUEUE", "CACHE_KEY_PREFIX")})
    web = WebServer(env, tmp_path / "web.log").start()
    yield redis, web, worker
    web.stop()
    redis.stop()


def test_the_console_works_without_redis_and_recovers_when_it_returns(
    stack, sandbox, django_user_model
):
    redis, web, worker = stack
    user = web_user(django_user_model)
    prompt = make_prompt()
    token_row, token = ApiToken.issue("backend", all_prompts=True)
    browser = Session(web.url)
    browser.login(*user)

    # Redis up: a test runs, the API serves (and caches).
    assert BANNER not in browser.get("/").text
    reply = browser.post("/integrations/test/", FORM, headers=HTMX)
    assert reply.status == 200 and "Not tested" not in reply.text, reply.text
    assert wait_for_test(ConnectionTest.objects.latest("created").pk).succeeded
    assert invoke(web, prompt.slug, token).status == 200

    redis.stop()
    # A process trusts its last contact with Redis for up to a second (config.cache).
    wait_until(lambda: BANNER in browser.get("/").text, 3, "the banner shows")

    # Every page answers, with the banner; nothing is a server error.
    for path in PAGES:
        page = browser.get(path)
        assert page.status == 200, (path, page.status, page.text[:500])
        if not path.startswith("/admin/"):
            assert BANNER in page.text, path
    # Signing in works (a fresh session), and the login page says so too.
    other = Session(web.url)
    assert BANNER in other.get("/accounts/login/").text
    other.login(*user)
    assert other.get("/").status == 200

    # Test answers at once that the queue is unavailable, and stores nothing.
    before = ConnectionTest.objects.count()
    reply = browser.post("/integrations/test/", FORM, headers=HTMX)
    assert reply.status == 200
    assert "The task queue is unavailable" in reply.text and "Try again" in reply.text
    assert reply.seconds < 2, f"Test took {reply.seconds:.1f}s to answer"
    assert ConnectionTest.objects.count() == before

    # The Invoke API keeps serving, and a revocation applies at once (read from the database).
    assert invoke(web, prompt.slug, token).status == 200
    browser.post(f"/prompts/tokens/{token_row.pk}/revoke/")
    assert invoke(web, prompt.slug, token).status == 401
    fresh = ApiToken.issue("fresh", all_prompts=True)[1]
    assert invoke(web, prompt.slug, fresh).status == 200

    # Redis returns on the same address: the banner goes and tests run again, nothing restarted.
    redis.start()
    wait_until(lambda: BANNER not in browser.get("/").text, 15, "the banner is gone")

    def a_test_runs():
        reply = browser.post("/integrations/test/", FORM, headers=HTMX)
        return reply.status == 200 and "The task queue is unavailable" not in reply.text

    wait_until(a_test_runs, 15, "Test is accepted again")
    # The same worker reconnects to the broker by itself and runs it.
    assert wait_for_test(ConnectionTest.objects.latest("created").pk, 90).succeeded
    assert worker.proc is not None and worker.proc.poll() is None
    assert not ConnectionTest.objects.exclude(status__in=ConnectionTest.TERMINAL).exists()
    assert invoke(web, prompt.slug, fresh).status == 200
    assert invoke(web, prompt.slug, token).status == 401
    assert "Internal Server Error" not in (web.log_path.read_text())


def test_pages_login_test_and_api_in_one_process_with_redis_unreachable(
    client, alice, sandbox, redis_down
):
    """The same promises inside one process, quickly: Redis is a closed port from the start."""
    prompt = make_prompt(alice)
    token = ApiToken.issue("backend", all_prompts=True)[1]
    redis_down()
    r = client.post("/accounts/login/", {"username": "alice", "password": "alice-password-long"})
    assert r.status_code == 302
    for path in PAGES[:-1]:
        page = client.get(path)
        assert page.status_code == 200 and BANNER in page.text, path
    before = ConnectionTest.objects.count()
    started = time.monotonic()
    r = client.post("/integrations/test/", FORM, HTTP_HX_REQUEST="true")
    assert "The task queue is unavailable" in r.text
    assert time.monotonic() - started < 2
    assert ConnectionTest.objects.count() == before
    r = client.post(
        f"/api/v1/prompts/{prompt.slug}/invoke",
        json.dumps({"question": "q", "max_tokens": 5}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert r.status_code == 200, r.content
