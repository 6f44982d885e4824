"""Shared fixtures: the sandbox (AWS stand-in), a real Celery worker process, and the users.

The narrative: alice is the platform administrator (staff, superuser), bob a staff member with the Publisher role,
charlie has an account but is not staff and has no role (refused everywhere with 403).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SANDBOX_PORT = _free_port()
SANDBOX_URL = f"http://127.0.0.1:{SANDBOX_PORT}"
QUEUE = f"tests-{uuid.uuid4().hex[:8]}"

# The console's own AWS identity is the sandbox's platform key pair; set before boto3 reads it.
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIASANDBOXPLATFORM0",
    "AWS_SECRET_ACCESS_KEY": "sandbox-platform-secret-key-not-for-aws",
    "AWS_ENDPOINT_URL_STS": SANDBOX_URL,
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
    "EXTRA_AWS_ENDPOINTS": SANDBOX_URL,
    "CELERY_QUEUE": QUEUE,
    "CACHE_KEY_PREFIX": QUEUE,
}
os.environ.update(TEST_ENV)
for leftover in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK"):
    os.environ.pop(leftover, None)


@pytest.fixture(scope="session", autouse=True)
def _console_settings():
    from django.conf import settings

    from config.celery import app

    settings.EXTRA_AWS_ENDPOINTS = [SANDBOX_URL]
    app.conf.task_default_queue = QUEUE
    _share_cache_prefix_with_worker()


def _share_cache_prefix_with_worker() -> None:
    """Django read its settings before this file set CACHE_KEY_PREFIX: give this process the
    run's prefix too, so that it shares one cache with the run's worker (as a deployment's
    processes do) and none with another run on the same Redis."""
    from django.conf import settings
    from django.test.signals import clear_cache_handlers

    default = settings.CACHES["default"]
    if "KEY_PREFIX" in default:
        default["KEY_PREFIX"] = QUEUE
        clear_cache_handlers(setting="CACHES")  # what Django does when a test changes CACHES


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    # A test database of this run's own, so that two runs on one machine don't collide.
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db["TEST"]["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")
    else:
        db.setdefault("TEST", {})["NAME"] = f"test_{db['NAME']}_{QUEUE.replace('-', '_')}"


@pytest.fixture(autouse=True)
def _fresh_api_cache():
    # A rolled-back test leaves no signal behind: start every test with an empty cache.
    from prompts_library import apicache
    from usage import limits, prices, recording

    for clear in (apicache.clear, limits.clear, prices.forget, recording.forget_keeping):
        clear()
    yield
    for clear in (apicache.clear, limits.clear, prices.forget, recording.forget_keeping):
        clear()


@pytest.fixture(autouse=True)
def _redis_breaker_reset():
    # A test that took Redis away must not leave this process thinking it is still gone.
    from config.cache import breaker

    breaker.reset()
    yield
    breaker.reset()


def _drop_journals() -> None:
    from audit.journal import journal as audit_journal
    from config.cache import UNREACHABLE, redis_client
    from usage.journal import journal as usage_journal

    client = redis_client()
    if client is None:
        return
    try:
        for journal in (usage_journal, audit_journal):
            deadline = time.monotonic() + 2
            while client.exists(journal.lock_key()) and time.monotonic() < deadline:
                time.sleep(0.01)  # a drain that runs ends first
            client.delete(journal.journal_key(), journal.rejected_key())
    except UNREACHABLE:
        pass  # a test that took Redis away: nothing to empty


@pytest.fixture(autouse=True)
def _empty_journals(_django_db_marker):
    """Each test starts and ends with empty journals (usage, audit): what a test's calls left
    not yet drained would otherwise be drained into the next test's database. Set up after
    the test's database (and so torn down before it is emptied for the next test)."""
    _drop_journals()
    yield
    _drop_journals()


DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(settings):
    """Call it to make Redis unreachable for this process: the shared cache and the broker."""
    from config.celery import app

    saved_broker = app.conf.broker_url

    def down() -> None:
        settings.REDIS_URL = DEAD_REDIS
        settings.CACHES = {
            "default": {
                "BACKEND": "config.cache.FailSoftRedisCache",
                "LOCATION": DEAD_REDIS,
                "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
            }
        }
        app.conf.broker_url = DEAD_REDIS
        app._pool = None
        app.amqp._producer_pool = None

    yield down
    app.conf.broker_url = saved_broker
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(autouse=True)
def _audit_chain_known_intact():
    # Console pages alert Administrators from the cached result of the chain's last check; a
    # test that broke the chain must not leave the next one (or its query counts) an alert.
    from audit import verify

    verify.remember(verify.ChainState())
    yield
    verify.remember(verify.ChainState())


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # alice, bob and charlie are created for most tests: PBKDF2 would cost ~0.2 s each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Failed logins in one test must not lock 127.0.0.1 out of the next (tests/security tests it).
    settings.LOGIN_FAILURE_LIMIT = 10_000
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 10_000


@pytest.fixture(scope="session")
def sandbox_server():
    from sandbox.server import SandboxServer

    server = SandboxServer(port=SANDBOX_PORT).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    """The sandbox, reset before each test; the cached credentials and identity are forgotten."""
    from bedrock import client

    sandbox_server.state.reset()
    client.reset_caches()
    return sandbox_server


def _database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or ""
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


class Worker:
    def __init__(self, log_path: Path, env: dict[str, str], concurrency: int) -> None:
        self.log_path = log_path
        self.env = env
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Worker:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "-Q",
                self.env.get("CELERY_QUEUE", QUEUE),
                "--concurrency",
                str(self.concurrency),
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"{self.env.get('CELERY_QUEUE', QUEUE)}-{uuid.uuid4().hex[:4]}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        start_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early: {self.log_path.read_text()[-3000:]}")
            text = self.log_path.read_bytes()[start_offset:].decode(errors="replace")
            if " ready." in text:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready: {self.log_path.read_text()[-3000:]}")

    def stop(self, sig: int | None = None) -> None:
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker, sandbox_server) -> dict[str, str]:
    with django_db_blocker.unblock():
        url = _database_url()
    env = {
        **os.environ,
        **TEST_ENV,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    return env


@pytest.fixture(scope="session")
def celery_worker(worker_env, tmp_path_factory):
    worker = Worker(tmp_path_factory.mktemp("worker") / "worker.log", worker_env, 8).start()
    yield worker
    worker.stop()


def wait_for_test(pk: int, timeout: float = 30, model=None):
    """Wait until the test (a ConnectionTest unless another model is given) has ended."""
    from integrations.models import ConnectionTest

    model = model or ConnectionTest
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        test = model.objects.get(pk=pk)
        if test.is_terminal:
            return test
        time.sleep(0.05)
    raise AssertionError(f"test {pk} did not end within {timeout}s (status {test.status})")


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(
        "alice", "alice@example.org", "alice-password-long", is_staff=True, is_superuser=True
    )


def grant(user, role: str):
    """Give the user one of the roles (Django groups); the groups are made if a flush took them."""
    from django.contrib.auth.models import Group

    from accounts.roles import ensure_roles

    if not Group.objects.filter(name=role).exists():
        ensure_roles()
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def bob(django_user_model):
    # bob is staff and a Publisher: he edits, tests and publishes prompts and manages tokens.
    bob = django_user_model.objects.create_user(
        "bob", "bob@example.org", "bob-password-long", is_staff=True
    )
    return grant(bob, "Publisher")


@pytest.fixture
def charlie(django_user_model):
    return django_user_model.objects.create_user(
        "charlie", "charlie@example.org", "charlie-password-long"
    )


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


class AsgiLiveServer:
    """The console served over ASGI by uvicorn in a thread of this process, as in production.

    It replaces pytest-django's live_server (a threaded WSGI server, which would buffer a
    Server-Sent Events stream whole): same interface, same test database. stop() and start()
    again play a web server restart on the same address.
    """

    def __init__(self) -> None:
        from django.test.utils import modify_settings

        self.port = _free_port()
        self._live_server_modified_settings = modify_settings(ALLOWED_HOSTS={"append": "127.0.0.1"})

    def start(self) -> AsgiLiveServer:
        import threading

        import uvicorn
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        from config.asgi import application

        config = uvicorn.Config(
            ASGIStaticFilesHandler(application),
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="asgi-live-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the ASGI live server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __str__(self) -> str:
        return self.url


@pytest.fixture(scope="session")
def live_server():
    server = AsgiLiveServer().start()
    yield server
    server.stop()
