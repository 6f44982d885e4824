"""./console bench: measure the console against plain boto3 and write docs/performance.md.

Everything runs on this machine: the sandbox (in this process), gunicorn and a Celery worker
(subprocesses, default settings), on SQLite + the file broker, or on PostgreSQL + Redis when
DATABASE_URL and REDIS_URL are set (a database `bench_console_<random>` of the run's own is
created and dropped).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_env(var_dir: Path, sandbox_url: str) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": "AKIASANDBOXPLATFORM0",
        "AWS_SECRET_ACCESS_KEY": "sandbox-platform-secret-key-not-for-aws",
        "AWS_ENDPOINT_URL_STS": sandbox_url,
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "EXTRA_AWS_ENDPOINTS": sandbox_url,
        "CELERY_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
        "CACHE_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        "CONSOLE_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    }
    for leftover in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK"):
        os.environ.pop(leftover, None)
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url.startswith("postgres"):
        parts = urlsplit(database_url)
        # A database of this run's own: other runs on the same server must not drop it.
        env["BENCH_DATABASE"] = f"bench_console_{uuid.uuid4().hex[:8]}"
        env["BENCH_ADMIN_DATABASE_URL"] = database_url
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{env['BENCH_DATABASE']}"))
    else:
        env["DATABASE_URL"] = f"sqlite:///{var_dir / 'bench.sqlite3'}"
    os.environ.update(env)
    return env


def recreate_postgres(drop_only: bool = False) -> None:
    import psycopg

    admin = os.environ.get("BENCH_ADMIN_DATABASE_URL")
    name = os.environ.get("BENCH_DATABASE", "")
    if not admin or not name.isidentifier():
        return
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {name}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="./console bench")
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated parts to run (burst, latency, credentials, api, pages, worker-loss,"
        " propagation, audit, usage, fallbacks, gateway, browser); prints"
        " their numbers as JSON instead of writing docs/performance.md",
    )
    parser.add_argument("--json", default="", help="also write the raw numbers to this file")
    args = parser.parse_args()
    parts = tuple(p.strip() for p in args.only.split(",") if p.strip())

    var_dir = Path(tempfile.mkdtemp(prefix="bench-console-"))
    port = free_port()
    # The sandbox runs in its own process, so that neither side shares a GIL with it.
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = prepare_env(var_dir, f"http://127.0.0.1:{port}")
    recreate_postgres()
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=ROOT,
            check=True,
        )
        import django

        django.setup()
        from bench import audit_review, browser_latency, fallbacks, gateway, resilience, runs, usage

        unknown = (
            set(parts)
            - set(runs.PARTS)
            - set(resilience.PARTS)
            - set(audit_review.PARTS)
            - set(usage.PARTS)
            - set(fallbacks.PARTS)
            - set(gateway.PARTS)
            - set(browser_latency.PARTS)
        )
        if unknown:
            parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
        wanted = parts or runs.PARTS + resilience.PARTS
        results = {}
        if set(wanted) & set(runs.PARTS):
            results = runs.run_all(
                env, var_dir, quick=args.quick, parts=tuple(p for p in wanted if p in runs.PARTS)
            )
        if set(wanted) & set(resilience.PARTS):
            results.update(resilience.run_all(env, var_dir, args.quick, wanted))
        if set(parts) & set(audit_review.PARTS):  # only when asked: it seeds its own trail
            results.update(audit_review.run_all(env, var_dir, args.quick, parts))
        if set(parts) & set(usage.PARTS):  # only when asked: it seeds its own records
            results.update(usage.run_all(env, var_dir, args.quick, parts))
        if set(parts) & set(fallbacks.PARTS):  # only when asked
            results.update(fallbacks.run_all(env, var_dir, args.quick, parts))
        if set(parts) & set(gateway.PARTS):  # only when asked
            results.update(gateway.run_all(env, var_dir, args.quick, parts))
        if set(parts) & set(browser_latency.PARTS):  # only when asked: it needs Chromium
            results.update(browser_latency.run_all(env, var_dir, args.quick, parts))
        import json

        if args.json:
            Path(args.json).write_text(json.dumps({"results": results, "machine": machine()}))
        if parts:
            print(json.dumps(results, indent=1, default=str))
            return
        from bench import report

        Path(args.out).write_text(report.render(results, machine()))
        print(f"wrote {args.out}")
    finally:
        sandbox.terminate()
        sandbox.wait()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110
            pass
        recreate_postgres(drop_only=True)
        # The seeded SQLite database of the pages benchmark takes hundreds of MB.
        shutil.rmtree(var_dir, ignore_errors=True)


def web_processes() -> int:
    """How many web processes gunicorn.conf.py starts here (as in production)."""
    import runpy

    return int(
        runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))["workers"]
    )


def machine() -> dict[str, str]:
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    from django.conf import settings
    from django.db import connection

    db = connection.vendor
    if db == "postgresql":
        with connection.cursor() as c:
            c.execute("SHOW server_version")
            db = f"PostgreSQL {c.fetchone()[0]}"
    else:
        import sqlite3

        db = f"SQLite {sqlite3.sqlite_version} (WAL)"
    broker = "Redis" if settings.REDIS_URL else "kombu file-system transport"
    if settings.REDIS_URL:
        import redis

        info = redis.Redis.from_url(settings.REDIS_URL).info("server")
        broker = f"Redis {info.get('redis_version')}"
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "database": db,
        "broker": broker,
        "worker": (
            f"{settings.CELERY_WORKER_POOL} pool, concurrency {settings.CELERY_WORKER_CONCURRENCY}"
        ),
        "web": f"gunicorn, {web_processes()} uvicorn (ASGI) workers",
    }


if __name__ == "__main__":
    main()
