"""Many open result pages on one web process: memory, threads, whether each page sees its result.

    python -m bench.live_streams [--connections 1000]

One gunicorn process with one uvicorn worker (as in production) on a SQLite file of the run's own
and the Redis at REDIS_URL (live updates through pub/sub; without REDIS_URL the streams poll).
N queued tests, one signed-in page stream each (`/integrations/tests/<pk>/events/?seen=queued`),
held open; then every test ends at once (as a worker would: the row, then a Redis message) and
each stream must deliver its final part. Prints the figures as Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.runs import ROOT, _free_port, gunicorn_command


def _proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def _worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


async def _open(port: int, cookie: str, pk: int, results: dict[int, float], opened: list[int]):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    writer.write(
        (
            f"GET /integrations/tests/{pk}/events/?seen=queued HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(head.decode(errors="replace")[:300])
    opened.append(pk)
    buffer = b""
    while b"event: status" not in buffer or b"Success" not in buffer:
        chunk = await reader.read(65536)
        if not chunk:
            break
        buffer += chunk
    results[pk] = time.monotonic()
    writer.close()


async def _run(port: int, cookie: str, pks: list[int], end_all, sample) -> dict[str, float]:
    results: dict[int, float] = {}
    opened: list[int] = []
    started = time.monotonic()
    tasks = []
    for pk in pks:  # opened at a steady pace, as pages would be
        tasks.append(asyncio.create_task(_open(port, cookie, pk, results, opened)))
        await asyncio.sleep(0.002)
    while len(opened) < len(pks):
        if time.monotonic() - started > 300:
            raise RuntimeError(f"only {len(opened)} of {len(pks)} streams opened")
        await asyncio.sleep(0.1)
    open_s = time.monotonic() - started
    await asyncio.sleep(2)  # every stream waiting
    held = sample()
    ended_at = time.monotonic()
    await asyncio.to_thread(end_all)
    await asyncio.wait_for(asyncio.gather(*tasks), 300)
    latencies = sorted(results[pk] - ended_at for pk in pks)
    return {
        **held,
        "open_s": open_s,
        "delivered": len(results),
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=1000)
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="bench-live-"))
    os.environ.update(
        {
            "CONSOLE_VAR_DIR": str(var_dir),
            "DATABASE_URL": f"sqlite:///{var_dir / 'bench.sqlite3'}",
            "CACHE_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "127.0.0.1",
        }
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client
    from django.utils import timezone

    from config import live
    from integrations.models import ConnectionTest

    user = User.objects.create_user("bench", is_superuser=True)  # signed in by session below
    rows = [
        ConnectionTest(
            role_arn="arn:aws:iam::111122223333:role/Bench",
            sts_endpoint="https://sts.us-east-1.amazonaws.com",
            external_id="bench-external-id",
            model_id="anthropic.claude-3-haiku-20240307-v1:0",
            endpoint="https://bedrock-runtime.us-east-1.amazonaws.com",
            request_json="{}",
            fingerprint="bench",
            created_by=user,
        )
        for _ in range(args.connections)
    ]
    pks = [row.pk for row in ConnectionTest.objects.bulk_create(rows)]
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    port = _free_port()
    web = subprocess.Popen(
        gunicorn_command(port, workers=1),
        cwd=ROOT,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the web process did not start")
            time.sleep(0.2)
        worker = _worker_pid(web.pid)
        idle = _proc_status(worker)

        def sample() -> dict[str, float]:
            status = _proc_status(worker)
            return {
                "rss_idle_mb": int(idle["VmRSS"].split()[0]) / 1024,
                "rss_mb": int(status["VmRSS"].split()[0]) / 1024,
                "threads_idle": int(idle["Threads"]),
                "threads": int(status["Threads"]),
            }

        def end_all() -> None:
            ConnectionTest.objects.filter(pk__in=pks).update(
                status="succeeded", output_text="Done", finished=timezone.now()
            )
            for pk in pks:
                live._publish(live.channel(ConnectionTest, pk))

        figures = asyncio.run(_run(port, cookie, pks, end_all, sample))
    finally:
        web.terminate()
        web.wait(30)
    feed = "Redis pub/sub" if settings.REDIS_URL else "polling (no REDIS_URL)"
    print(f"| open streams | {args.connections} ({feed}) |")
    print(f"| time to open them all | {figures['open_s']:.1f} s |")
    print(f"| web worker memory, idle -> all open | {figures['rss_idle_mb']:.0f} MB -> ", end="")
    print(f"{figures['rss_mb']:.0f} MB |")
    print(f"| web worker threads, idle -> all open | {figures['threads_idle']:.0f} -> ", end="")
    print(f"{figures['threads']:.0f} |")
    print(f"| pages that saw their result | {figures['delivered']:.0f} of {args.connections} |")
    print(
        f"| from the end of all tests to each page's result | median {figures['p50_ms']:.0f} ms,"
        f" last {figures['max_ms']:.0f} ms |"
    )


if __name__ == "__main__":
    main()
