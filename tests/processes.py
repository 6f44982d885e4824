"""Real processes for fault and scale tests: private Redis and PostgreSQL servers, gunicorn, and a
small HTTP client that signs in like a browser.

Private servers listen on free ports in temporary folders: the machine's shared PostgreSQL and
Redis are never stopped or restarted by a test.
"""

from __future__ import annotations

import http.cookiejar
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PrivateRedis:
    """A redis-server of the test's own, on a free port, without persistence (or with its
    append-only file, as docker-compose runs it)."""

    def __init__(self, folder: Path, appendonly: bool = False) -> None:
        self.folder = folder
        self.appendonly = appendonly
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 20, self.proc)
        return self

    def stop(self) -> None:
        _stop(self.proc)


def _as_postgres_user(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: CI runs as root, so run them as postgres.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb + pg_ctl in a temporary folder).

    The folder is made directly under the system's temporary folder: run as root, the cluster
    runs as the postgres user, which must reach it.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="console-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()

    @staticmethod
    def available() -> bool:
        if not (PG_BIN / "initdb").exists():
            return False
        return os.geteuid() != 0 or shutil.which("runuser") is not None

    def url(self, database: str = "console") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *cmd: str, timeout: float = 120) -> None:
        subprocess.run(
            _as_postgres_user([str(PG_BIN / cmd[0]), *cmd[1:]]),
            check=True,
            timeout=timeout,
            capture_output=True,
        )

    def init(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            action,
            "-D",
            str(self.data),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            *extra,
            "-l",
            str(self.folder / "postgres.log"),
        )

    def start(self) -> PrivatePostgres:
        self._pg_ctl("start")
        return self

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, name: str = "console") -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)


class WebServer:
    """gunicorn serving the console, as in production (uvicorn workers: ASGI)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebServer:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.asgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--worker-class",
                "uvicorn_worker.UvicornWorker",
                "--workers",
                "1",
                "--timeout",
                "120",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port, 60, self.proc)
        except RuntimeError:
            raise RuntimeError(self.log_path.read_text()[-3000:]) from None
        return self

    def stop(self) -> None:
        _stop(self.proc)


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=False,
        timeout=timeout,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@dataclass
class Reply:
    status: int
    text: str
    headers: Message  # names case-insensitive, as in HTTP
    seconds: float

    def json(self) -> object:
        import json

        return json.loads(self.text)


class Session:
    """Speaks HTTP to one web process like a browser: cookies, CSRF token, htmx headers."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def _csrf(self) -> str:
        for cookie in self.cookies:
            if cookie.name == "csrftoken":
                return cookie.value or ""
        return ""

    def request(
        self,
        method: str,
        path: str,
        data: dict | list | bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Reply:
        body: bytes | None
        if isinstance(data, dict | list):
            body = urllib.parse.urlencode(data, doseq=True).encode()
        else:
            body = data
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        if isinstance(data, dict | list):
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if method != "GET":
            request.add_header("X-CSRFToken", self._csrf())
            request.add_header("Referer", self.base_url + "/")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=timeout) as response:
                status, raw, got = response.status, response.read(), response.headers
        except urllib.error.HTTPError as e:
            status, raw, got = e.code, e.read(), e.headers
        return Reply(status, raw.decode(errors="replace"), got, time.monotonic() - started)

    def get(self, path: str, **kwargs) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data=None, **kwargs) -> Reply:
        return self.request("POST", path, data, **kwargs)

    def login(self, username: str, password: str) -> Reply:
        self.get("/accounts/login/")
        reply = self.post("/accounts/login/", {"username": username, "password": password})
        if reply.status != 302:
            raise AssertionError(f"login failed: {reply.status} {reply.text[:500]}")
        return reply


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
