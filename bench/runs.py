"""The measurements. Each returns plain numbers; report.py turns them into docs/performance.md."""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = secrets.token_urlsafe(16)


# --- helpers -------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "p95": pct(values, 95), "n": len(values)}


class Sandbox:
    """The sandbox's /_sandbox/ control API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        conn.request(method, "/_sandbox/" + path, json.dumps(body or {}).encode())
        data = conn.getresponse().read()
        conn.close()
        return json.loads(data)

    def stats(self) -> dict[str, Any]:
        return self.call("GET", "stats")

    def delay(self, ms: int) -> None:
        self.call("PUT", "config", {"invoke_delay_ms": ms, "sts_delay_ms": 0})

    def role(self, arn: str, external_id: str) -> None:
        self.call("PUT", "roles", {"role_arn": arn, "external_id": external_id})


class Web:
    """A logged-in browser session over plain HTTP, one keep-alive connection per thread."""

    def __init__(self, port: int, session_id: str) -> None:
        self.port = port
        self.csrf = secrets.token_hex(16)
        self.cookie = f"sessionid={session_id}; csrftoken={self.csrf}"
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return conn

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str):
        h = {"Cookie": self.cookie, "HX-Request": "true", "X-CSRFToken": self.csrf, **headers}
        if body is not None:
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, path, body, h)
                r = conn.getresponse()
                return r.status, r.read().decode()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket_ = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            socket_.request("GET", "/healthz")
            socket_.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def gunicorn_command(port: int, workers: int | None = None) -> list[str]:
    """The console served as in production (ASGI: gunicorn with uvicorn workers) on this port;
    without `workers`, as many web processes as gunicorn.conf.py gives (WEB_CONCURRENCY)."""
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.asgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "uvicorn_worker.UvicornWorker",
        *(("--workers", str(workers)) if workers else ()),
        "--log-level",
        "warning",
    ]


def start_services(
    env: dict[str, str], var_dir: Path
) -> tuple[subprocess.Popen, subprocess.Popen, int]:
    port = _free_port()
    web = subprocess.Popen(
        gunicorn_command(port),
        cwd=ROOT,
        stdout=(var_dir / "web.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    log = var_dir / "worker.log"
    worker = subprocess.Popen(
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
            env["CELERY_QUEUE"],
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while " ready." not in (log.read_text() if log.exists() else ""):
        if time.monotonic() > deadline or worker.poll() is not None:
            raise RuntimeError("worker did not start: " + log.read_text()[-2000:])
        time.sleep(0.1)
    wait_port(port)
    return web, worker, port


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


# --- fixtures in the database ----------------------------------------------------------------


def make_integration(sandbox_url: str, name: str = "Haiku", role=None):
    from bedrock import families
    from integrations.models import BedrockModel, Configuration, Provider
    from sandbox import DEMO_EXTERNAL_ID, DEMO_MODEL_ID, DEMO_ROLE_ARN

    role_arn, external_id = role or (DEMO_ROLE_ARN, DEMO_EXTERNAL_ID)
    config = Configuration(
        role_arn=role_arn,
        sts_endpoint=sandbox_url,
        external_id=external_id,
        model_id=DEMO_MODEL_ID,
        endpoint=sandbox_url,
        headers=(),
        request_json=families.default_request_json(families.FAMILIES["anthropic"]),
    )
    provider, _ = Provider.objects.get_or_create(
        name="Bench", defaults={"external_id": DEMO_EXTERNAL_ID}
    )
    integration = BedrockModel(provider=provider, name=name)
    integration.apply(config)
    integration.save()
    return integration, config


def form_for(config, name: str = "Haiku") -> bytes:
    return urlencode(
        {
            "provider_name": "Bench",
            "model_name": name,
            "role_arn": config.role_arn,
            "sts_endpoint": config.sts_endpoint,
            "external_id": config.external_id,
            "model_id": config.model_id,
            "endpoint": config.endpoint,
            "request_json": config.request_json,
        }
    ).encode()


def wait_all_terminal(pks: list[int], timeout: float) -> float:
    from integrations.models import ConnectionTest

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        left = ConnectionTest.objects.filter(pk__in=pks).exclude(status__in=ConnectionTest.TERMINAL)
        if not left.exists():
            return time.monotonic()
        time.sleep(0.02)
    raise RuntimeError("tests did not end in time")


# --- the plain boto3 baseline ----------------------------------------------------------------


def plain_client(sandbox_url: str):
    """A bedrock-runtime client with credentials assumed once, as a hand-written caller would."""
    import boto3
    from botocore.config import Config

    from sandbox import DEMO_EXTERNAL_ID, DEMO_ROLE_ARN

    sts = boto3.client("sts", endpoint_url=sandbox_url, region_name="us-east-1")
    c = sts.assume_role(
        RoleArn=DEMO_ROLE_ARN, RoleSessionName="bench-plain", ExternalId=DEMO_EXTERNAL_ID
    )["Credentials"]
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=sandbox_url,
        region_name="us-east-1",
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
        config=Config(max_pool_connections=64, retries={"total_max_attempts": 1}),
    )


def cpu_seconds(command_part: str) -> float:
    """CPU time (user + system) of the processes whose command line holds `command_part`."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if command_part not in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, UnicodeDecodeError):
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def plain_invoke(client, body: bytes) -> float:
    from sandbox import DEMO_MODEL_ID

    t = time.perf_counter()
    r = client.invoke_model(
        modelId=DEMO_MODEL_ID, body=body, contentType="application/json", accept="application/json"
    )
    r["body"].read()
    return (time.perf_counter() - t) * 1000


# --- the benchmarks --------------------------------------------------------------------------

# The status part's live stream (its query may carry more than ?seen=, e.g. for_form=1): each
# stream sends the part once the test moved past `seen`, then ends.
STATUS_URL = re.compile(r'sse-connect="(/integrations/tests/(\d+)/events/\?seen=\w+[^"]*)"')


def console_test_once(web: Web, form: bytes) -> tuple[float, int]:
    """Click Test, then follow the page's live streams until the final result is on the page."""
    t = time.perf_counter()
    status, text = web.request("POST", "/integrations/test/", form)
    m = STATUS_URL.search(text)
    if status != 200 or not m:
        raise RuntimeError(f"Test did not start: {status} {text[:300]}")
    pk = int(m[2])
    while m:
        _, text = web.request("GET", html.unescape(m[1]))
        m = STATUS_URL.search(text)
    if "Success" not in text:
        raise RuntimeError(f"test {pk} did not succeed: {text[:500]}")
    return (time.perf_counter() - t) * 1000, pk


def bench_latency(web: Web, sandbox: Sandbox, config, plain, n: int) -> dict[str, Any]:
    from bedrock import families

    sandbox.delay(200)
    form = form_for(config, "Latency form")
    body = families.default_request_json(families.FAMILIES["anthropic"]).encode()
    console_test_once(web, form)  # warm up: credentials cached, connections open
    plain_invoke(plain, body)
    console, baseline = [], []
    for _ in range(n):  # interleaved, so that both see the same machine
        console.append(console_test_once(web, form)[0])
        baseline.append(plain_invoke(plain, body))
    c, b = summary(console), summary(baseline)
    return {
        "console": c,
        "plain": b,
        "overhead_median": c["median"] - b["median"],
        "overhead_p95": c["p95"] - b["p95"],
    }


def bench_credentials(sandbox: Sandbox, sandbox_url: str, n_one_role: int) -> dict[str, Any]:
    from integrations import services
    from sandbox import DEMO_ROLE_ARN

    sandbox.delay(0)
    _, config = make_integration(sandbox_url, "Creds")
    before = sandbox.stats()["assume_role_calls_by_role"].get(DEMO_ROLE_ARN, 0)
    pks = [services.start_test(config, None).pk for _ in range(n_one_role)]
    wait_all_terminal(pks, 120)
    one_role = sandbox.stats()["assume_role_calls_by_role"].get(DEMO_ROLE_ARN, 0) - before

    sandbox.delay(300)  # every test is in flight while the first AssumeRole answers
    arn = f"arn:aws:iam::111122223333:role/Bench{uuid.uuid4().hex[:10]}"
    external_id = f"bench-{uuid.uuid4().hex}"
    sandbox.role(arn, external_id)
    _, new_config = make_integration(sandbox_url, "New role", (arn, external_id))
    with ThreadPoolExecutor(16) as pool:
        pks = list(pool.map(lambda _: services.start_test(new_config, None).pk, range(50)))
    wait_all_terminal(pks, 120)
    from integrations.models import ConnectionTest

    ok = ConnectionTest.objects.filter(pk__in=pks, status="succeeded").count()
    return {
        "one_role_tests": n_one_role,
        "one_role_sts_calls": one_role,
        "new_role_tests": 50,
        "new_role_sts_calls": sandbox.stats()["assume_role_calls_by_role"].get(arn, 0),
        "new_role_succeeded": ok,
    }


def bench_burst(sandbox: Sandbox, sandbox_url: str, n: int = 200) -> dict[str, Any]:
    from integrations import services
    from integrations.models import ConnectionTest

    sandbox.delay(1000)
    _, config = make_integration(sandbox_url, "Burst")
    invokes_before = sandbox.stats()["invoke_calls"]
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        pks = list(pool.map(lambda _: services.start_test(config, None).pk, range(n)))
    enqueued = time.monotonic()
    finished = wait_all_terminal(pks, 300)
    rows = ConnectionTest.objects.filter(pk__in=pks)
    return {
        "n": n,
        "wall_s": finished - started,
        "enqueue_s": enqueued - started,
        "succeeded": rows.filter(status="succeeded").count(),
        "lost": n - rows.filter(status__in=ConnectionTest.TERMINAL).count(),
        "run_twice": rows.filter(attempts__gt=1).count(),
        "invokes": sandbox.stats()["invoke_calls"] - invokes_before,
        "serial_s": n * 1.0,
    }


def bench_invoke_api(port: int, sandbox: Sandbox, sandbox_url: str, plain, n: int) -> dict:
    from prompts_library import services as prompts
    from prompts_library.models import ApiToken, Feature

    sandbox.delay(0)
    integration, _ = make_integration(sandbox_url, "API")
    template = (
        '{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, '
        '"messages": [{"role": "user", "content": "{{question}}"}]}'
    )
    prompt = prompts.create_prompt(
        name=f"Bench {uuid.uuid4().hex[:6]}",
        integration=integration,
        feature=Feature.objects.get_or_create(name="Bench")[0],
        content=prompts.VersionContent(
            request_template=template,
            response_path="content[0].text",
            input_tokens_path="usage.input_tokens",
            output_tokens_path="usage.output_tokens",
            samples={"question": "hi"},
        ),
        author=None,
    )
    prompts.publish(prompt, prompt.versions.get())
    token = ApiToken.issue("bench", all_prompts=True)[1]
    local = threading.local()
    payload = json.dumps({"question": "hi"}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = template.replace("{{question}}", "hi").encode()

    def api_call(_: int = 0) -> float:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t = time.perf_counter()
        conn.request("POST", f"/api/v1/prompts/{prompt.slug}/invoke", payload, headers)
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"invoke API: {r.status} {data[:300]!r}")
        return (time.perf_counter() - t) * 1000

    def plain_call(_: int = 0) -> float:
        return plain_invoke(plain, body)

    for _ in range(20):
        api_call()
        plain_call()
    api1, plain1 = [], []
    for _ in range(n):
        api1.append(api_call())
        plain1.append(plain_call())

    def throughput(fn, total: int) -> float:
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(fn, range(64)))  # warm every thread's connection
            t = time.perf_counter()
            list(pool.map(fn, range(total)))
            return total / (time.perf_counter() - t)

    # Rounds of plain boto3 and the API alternate (plain-api, api-plain, ...): on a shared
    # machine the rate drifts by a third within a minute, so each round's ratio is taken against
    # the round run next to it, and the figure is the median of those ratios.
    total = int(os.environ.get("BENCH_API_TOTAL", 0)) or max(320, n * 8)
    rounds = int(os.environ.get("BENCH_API_ROUNDS", 0)) or 6
    per_round = max(64, total // rounds)
    web, sandbox_process = f"127.0.0.1:{port}", f"sandbox --port {sandbox_url.rsplit(':', 1)[1]}"
    cpu = {"plain": [0.0, 0.0, 0.0], "api": [0.0, 0.0, 0.0]}  # web, sandbox, this process
    rates: dict[str, list[float]] = {"plain": [], "api": []}
    for i in range(rounds):
        order = ("plain", "api") if i % 2 == 0 else ("api", "plain")
        for kind in order:
            before = (cpu_seconds(web), cpu_seconds(sandbox_process), time.process_time())
            rates[kind].append(throughput(plain_call if kind == "plain" else api_call, per_round))
            after = (cpu_seconds(web), cpu_seconds(sandbox_process), time.process_time())
            cpu[kind] = [c + b - a for c, a, b in zip(cpu[kind], before, after, strict=True)]
    calls = per_round * rounds
    ratios = [a / p for a, p in zip(rates["api"], rates["plain"], strict=True)]
    a, p = summary(api1), summary(plain1)
    return {
        "api": a,
        "plain": p,
        "overhead_median": a["median"] - p["median"],
        "api_rps": statistics.median(rates["api"]),
        "plain_rps": statistics.median(rates["plain"]),
        "ratio_median": statistics.median(ratios),
        "ratio_rounds": [round(r, 3) for r in ratios],
        # CPU per call of each process during the throughput rounds: on a shared machine these
        # move less than the rates; compare api_web with plain_client, measured alike.
        "cpu_ms_per_call": {
            "plain_client": cpu["plain"][2] * 1000 / calls,
            "plain_sandbox": cpu["plain"][1] * 1000 / calls,
            "plain_web": cpu["plain"][0] * 1000 / calls,  # idle: about 0
            "api_web": cpu["api"][0] * 1000 / calls,
            "api_client": cpu["api"][2] * 1000 / calls,
            "api_sandbox": cpu["api"][1] * 1000 / calls,
        },
    }


def seed_pages(sandbox_url: str, integrations: int, versions: int, tests: int) -> None:
    from integrations.models import BedrockModel, ConnectionTest, Provider
    from prompts_library.models import Feature, Prompt, PromptVersion

    _, config = make_integration(sandbox_url, "Seed")
    fp = config.fingerprint()
    providers = Provider.objects.bulk_create(
        [Provider(name=f"Seed provider {i}", external_id=f"seed-ext-{i:06d}") for i in range(100)]
    )
    rows = [
        BedrockModel(
            provider=providers[i % 100],
            name=f"Seed model {i}",
            api_name=f"seed-model-{i}",
            role_arn=config.role_arn,
            sts_endpoint=config.sts_endpoint,
            external_id=config.external_id,
            model_id=config.model_id,
            endpoint=config.endpoint,
            headers=[],
            request_json=config.request_json,
            fingerprint=fp,
        )
        for i in range(integrations)
    ]
    models = BedrockModel.objects.bulk_create(rows, batch_size=1000)
    feature = Feature.objects.get_or_create(name="Seed")[0]
    n_prompts = max(1, versions // 100)
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(
                name=f"Seed prompt {i}",
                slug=f"seed-prompt-{i}",
                integration=models[i % len(models)],
                feature=feature,
            )
            for i in range(n_prompts)
        ]
    )
    PromptVersion.objects.bulk_create(
        [
            PromptVersion(
                prompt=prompts[i % n_prompts],
                number=i // n_prompts + 1,
                request_template="{}",
                response_path="content[0].text",
            )
            for i in range(versions)
        ],
        batch_size=2000,
    )
    ConnectionTest.objects.bulk_create(
        [
            ConnectionTest(
                integration=models[i % len(models)],
                status="succeeded",
                fingerprint=fp,
                role_arn=config.role_arn,
                sts_endpoint=config.sts_endpoint,
                external_id=config.external_id,
                model_id=config.model_id,
                endpoint=config.endpoint,
                request_json="{}",
            )
            for i in range(tests)
        ],
        batch_size=2000,
    )


def seed_audit(n: int, budget_s: float = 120.0) -> int:
    """Append n events to the audit chain with bulk_create (a valid chain), or as many as fit
    in budget_s seconds. Returns how many were written."""
    import hashlib

    from django.db import transaction

    from audit.models import AuditEvent, ChainHead

    head, _ = ChainHead.objects.get_or_create(pk=1)
    prev = head.last_hash
    started = time.monotonic()
    written, batch = 0, 10_000
    base = datetime.now(UTC)
    while written < n and time.monotonic() - started < budget_s:
        rows = []
        for i in range(written, min(n, written + batch)):
            # The hash is over the same canonical payload as AuditEvent.compute_hash, built
            # directly here (the seed's values are plain JSON) to keep seeding fast.
            created = base + timedelta(microseconds=i)
            payload = {
                "created": created.isoformat(),
                "actor_id": None,
                "actor_repr": "seed",
                "ip": "127.0.0.1",
                "user_agent": "",
                "action": "token_used",
                "object_type": "prompts_library.apitoken",
                "object_id": str(i % 50),
                "object_repr": f"API token #{i % 50}",
                "changes": {"method": "POST", "path": "/api/v1/prompts/x/invoke"},
                "prev_hash": prev,
            }
            digest = hashlib.sha256(
                json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
            ).hexdigest()
            rows.append(
                AuditEvent(
                    created=created,
                    actor_repr="seed",
                    ip="127.0.0.1",
                    action="token_used",
                    object_type="prompts_library.apitoken",
                    object_id=payload["object_id"],
                    object_repr=payload["object_repr"],
                    changes=payload["changes"],
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
        with transaction.atomic():
            AuditEvent.objects.bulk_create(rows, batch_size=2000)
            ChainHead.objects.filter(pk=1).update(last_hash=prev)
        written += len(rows)
    return written


AUDIT_TABLE_COUNT = re.compile(r'SELECT COUNT\(\*\) AS "__count" FROM "audit_auditevent"', re.I)

PAGES = [
    ("Integrations list (home)", "/"),
    ("Integrations, page 100", "/?page=100"),
    ("Integrations search", "/?q=model+77"),
    ("Prompts list", "/prompts/"),
    ("Prompts, page 10", "/prompts/?page=10"),
    ("Audit changelist", "/admin/audit/auditevent/"),
    ("Audit changelist, page 100", "/admin/audit/auditevent/?p=100"),
]


def bench_pages(web: Web, session_user, n: int, large: bool = False) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(session_user)
    out = {}
    for name, path in PAGES:
        with CaptureQueriesContext(connection) as q:
            r = client.get(path, HTTP_HOST="127.0.0.1")
        if r.status_code == 302 and not large:
            continue  # a deep page that does not exist yet in the small data set
        if r.status_code != 200:
            raise RuntimeError(f"{path}: {r.status_code}")
        full_counts = [
            x["sql"]
            for x in q.captured_queries
            if AUDIT_TABLE_COUNT.search(x["sql"]) and " WHERE " not in x["sql"]
        ]
        times, size = [], len(r.content)
        for _ in range(n):
            t = time.perf_counter()
            status, _ = web.request("GET", path)
            times.append((time.perf_counter() - t) * 1000)
            if status != 200:
                raise RuntimeError(f"{path}: {status}")
        out[name] = {
            "queries": len(q),
            "bytes": size,
            "audit_counts": len(full_counts),
            **summary(times),
        }
    return out


PARTS = ("burst", "latency", "credentials", "api", "pages")


def run_all(
    env: dict[str, str], var_dir: Path, quick: bool, parts: tuple[str, ...] = PARTS
) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    sandbox_url = env["EXTRA_AWS_ENDPOINTS"]
    sandbox = Sandbox(sandbox_url)
    web_proc, worker_proc, port = start_services(env, var_dir)
    results: dict[str, Any] = {}
    try:
        user = get_user_model().objects.create_user(
            "bench", "bench@example.org", DEMO_PASSWORD, is_staff=True, is_superuser=True
        )
        c = Client()
        c.force_login(user)
        web = Web(port, c.cookies["sessionid"].value)
        _, config = make_integration(sandbox_url)
        plain = plain_client(sandbox_url)

        if "burst" in parts:
            print("3. 200 tests at once", flush=True)
            results["burst"] = bench_burst(sandbox, sandbox_url)
            gunicorn_workers = children(web_proc.pid)
            results["rss"] = {
                "worker_mb": peak_rss_mb(worker_proc.pid),
                "web_mb": max(peak_rss_mb(p) for p in gunicorn_workers) if gunicorn_workers else 0,
                "web_master_mb": peak_rss_mb(web_proc.pid),
            }
        if "latency" in parts:
            print("1. Test latency", flush=True)
            results["latency"] = bench_latency(web, sandbox, config, plain, 15 if quick else 50)
        if "credentials" in parts:
            print("2. credentials", flush=True)
            results["credentials"] = bench_credentials(sandbox, sandbox_url, 100 if quick else 1000)
        if "api" in parts:
            print("4. Invoke API", flush=True)
            results["invoke_api"] = bench_invoke_api(
                port, sandbox, sandbox_url, plain, 50 if quick else 200
            )
        if "pages" in parts:
            print("5. pages", flush=True)
            small = bench_pages(web, user, 10)
            seed_pages(
                sandbox_url,
                1_000 if quick else 10_000,
                10_000 if quick else 100_000,
                10_000 if quick else 100_000,
            )
            wanted = 100_000 if quick else 1_000_000
            t = time.monotonic()
            events = seed_audit(wanted)
            print(f"   seeded {events} audit events in {time.monotonic() - t:.0f} s", flush=True)
            large = bench_pages(web, user, 5 if quick else 20, large=True)
            results["pages"] = {
                "small": small,
                "large": large,
                "quick": quick,
                "audit_events": events,
                "audit_wanted": wanted,
            }
    finally:
        for proc in (web_proc, worker_proc):
            proc.terminate()
        for proc in (web_proc, worker_proc):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return results
