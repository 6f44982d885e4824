"""Usage: recording overhead, rate-limit overhead, the Invoke API with recording on and off, and
the usage pages on many records (`./console bench --only usage`, PostgreSQL).

Records and a year of rollups are seeded in SQL (generate_series); USAGE_BENCH_RECORDS sets the
number of records (default 1,000,000; the issue's target is 10,000,000) and USAGE_BENCH_COMBOS
the rollup rows per hour (default 40: 8,760 hours x 40 = 350,400 rows; and their 14,600 daily
rows). Pages are requested in
this process with Django's test client, so their time is server time, with queries counted.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any

PARTS = ("usage",)


def _stats(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "median_ms": round(statistics.median(times), 3),
        "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 3),
    }


def seed(records: int, combos: int, integrations: list[int], prompt_id: int, token_id: int) -> None:
    from django.db import connection

    n_int = len(integrations)
    with connection.cursor() as c:
        c.execute(
            """
            INSERT INTO usage_callrecord (created, kind, integration_id, prompt_id, version_id,
                token_id, feature, ok, error_code, http_status, total_ms, input_tokens,
                output_tokens, cost_nano, request_id, request_body, response_body)
            SELECT now() - (i * (interval '30 days' / %s)), 'invoke_api',
                (%s::bigint[])[1 + i %% %s], %s, NULL, %s, 'Co-pilot', i %% 50 <> 0,
                CASE WHEN i %% 50 = 0 THEN 'ThrottlingException' ELSE '' END, 200,
                50 + (i::bigint * 7919) %% 2000, 100 + i %% 400, 20 + i %% 300, 25000 + i %% 90000,
                md5(i::text), '', ''
            FROM generate_series(1, %s) AS i
            """,
            [records, integrations, n_int, prompt_id, token_id, records],
        )
        lat = ", ".join(f"lat{b}" for b in range(16))
        lat_values = ", ".join(f"(c * {b + 3}) %% 40" for b in range(16))
        c.execute(
            f"""
            INSERT INTO usage_hourlyrollup (hour, kind, integration_id, prompt_id, version_id,
                feature, token_id, calls, errors, input_tokens, output_tokens, cost_nano,
                latency_sum_ms, {lat})
            SELECT date_trunc('hour', now()) - h * interval '1 hour', 'invoke_api',
                (%s::bigint[])[1 + c %% %s], CASE WHEN c %% 2 = 0 THEN %s ELSE 1000 + c END, c,
                'feature ' || (c %% 5), CASE WHEN c %% 3 = 0 THEN %s ELSE 0 END,
                300, 6, 60000, 30000, 15000000, 300 * 400, {lat_values}
            FROM generate_series(0, 8759) AS h, generate_series(0, %s - 1) AS c
            ON CONFLICT DO NOTHING
            """,  # noqa: S608 - column names from constants
            [integrations, n_int, prompt_id, token_id, combos],
        )
        # The daily rows of those hours, as the recording keeps them (sums of the same days).
        sums = ("calls", "errors", "input_tokens", "output_tokens", "cost_nano", "latency_sum_ms")
        sums += tuple(f"lat{b}" for b in range(16))
        c.execute(
            f"""
            INSERT INTO usage_dailyrollup (day, kind, integration_id, prompt_id, version_id,
                feature, token_id, {", ".join(sums)})
            SELECT date_trunc('day', hour, 'UTC'), kind, integration_id, prompt_id, version_id,
                feature, token_id, {", ".join(f"sum({s})" for s in sums)}
            FROM usage_hourlyrollup
            GROUP BY 1, kind, integration_id, prompt_id, version_id, feature, token_id
            ON CONFLICT DO NOTHING
            """  # noqa: S608 - column names from constants
        )
        c.execute("ANALYZE usage_callrecord")
        c.execute("ANALYZE usage_hourlyrollup")
        c.execute("ANALYZE usage_dailyrollup")


def measure(client: Any, path: str, n: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as q:
        r = client.get(path)
    if r.status_code != 200:
        raise RuntimeError(f"{path}: {r.status_code}")
    queries = len(q)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - t) * 1000)
    return {"queries": queries, **_stats(times)}


def recording_overhead(integration_id: int, prompt_id: int, n: int) -> dict[str, Any]:
    """The observer's time per call, in the calling thread (what an Invoke API call waits)."""
    from bedrock import observe
    from usage import recording

    context = observe.CallContext(
        observe.INVOKE_API, integration_id, prompt_id=prompt_id, feature="Co-pilot"
    )
    outcome = observe.CallOutcome(
        ok=True,
        http_status=200,
        total_ms=300,
        sts_ms=1,
        model_ms=299,
        input_tokens=120,
        output_tokens=40,
        request_id="bench",
    )
    for _ in range(50):
        recording.record_call(context, outcome)
    from django.db import connection

    times, baseline = [], []
    for _ in range(n):
        t = time.perf_counter()
        recording.record_call(context, outcome)
        times.append((time.perf_counter() - t) * 1000)
        # The same moment's cost of the smallest round trip, for scale on a loaded machine.
        t = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        baseline.append((time.perf_counter() - t) * 1000)
    return {**_stats(times), "select_1_median_ms": round(statistics.median(baseline), 3)}


def limits_overhead(token_id: int, n: int, redis: bool) -> dict[str, Any]:
    from django.conf import settings

    from prompts_library import apicache
    from usage import limits

    saved = settings.REDIS_URL
    if not redis:
        settings.REDIS_URL = ""
    try:
        read_under = apicache.sync()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            limits.admit(token_id, read_under)
            times.append((time.perf_counter() - t) * 1000)
    finally:
        settings.REDIS_URL = saved
    return _stats(times)


def api_throughput(
    prompt: Any, token: str, n: int, clients: int = 1, pairs: int = 6
) -> dict[str, Any]:
    """Invoke API calls in this process (test client, the bench's sandbox), with the usage
    observer on and off, alternating rounds so that both see the same load: one client after
    another (each call waits for its record), and `clients` at once (throughput, as the issue
    states the target: while one call waits for the database, others run)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection
    from django.test import Client

    from bedrock import observe
    from usage import recording

    body = json.dumps({"input": "hi"})

    def calls(count: int) -> None:
        client = Client(HTTP_HOST="127.0.0.1")
        try:
            for _ in range(count):
                r = client.post(
                    f"/api/v1/prompts/{prompt.slug}/invoke",
                    body,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {token}",
                )
                if r.status_code != 200:
                    raise RuntimeError(r.content[:300])
        finally:
            connection.close()  # each thread gives its database connection back

    def rounds(width: int) -> float:
        t = time.perf_counter()
        if width == 1:
            calls(n)
        else:
            with ThreadPoolExecutor(width) as pool:
                list(pool.map(calls, [n // width] * width))
        return (n // width * width) / (time.perf_counter() - t)

    results: dict[str, Any] = {}
    for width in sorted({1, clients}):
        rounds(width)  # warm up
        on, off, differences = [], [], []
        # Pairs of rounds, in alternating order (on-off, off-on, ...), so that a drift of the
        # machine's load or of the tables' size falls on both; the figure is the median of the
        # pairs' differences.
        for i in range(pairs):
            pair: dict[bool, float] = {}
            for recording_on in (True, False) if i % 2 == 0 else (False, True):
                if recording_on:
                    pair[True] = rounds(width)
                else:
                    observe.remove_observer(recording.record_call)
                    try:
                        pair[False] = rounds(width)
                    finally:
                        observe.add_observer(recording.record_call)
            on.append(pair[True])
            off.append(pair[False])
            differences.append((pair[False] - pair[True]) / pair[False] * 100)
        suffix = "" if width == 1 else f"_{width}_clients"
        results |= {
            f"calls_per_s_recording_on{suffix}": round(statistics.median(on), 1),
            f"calls_per_s_recording_off{suffix}": round(statistics.median(off), 1),
            f"difference_pct{suffix}": round(statistics.median(differences), 1),
            f"difference_pct_pairs{suffix}": [round(d, 1) for d in differences],
        }
    return results


def run_all(env: dict[str, str], var_dir: Any, quick: bool, parts: tuple[str, ...]) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from prompts_library import services
    from prompts_library.models import ApiToken, Feature
    from usage import limits

    if connection.vendor != "postgresql":
        raise SystemExit("--only usage seeds with PostgreSQL's generate_series: set DATABASE_URL")
    from bench.runs import make_integration  # the bench's integration on its sandbox

    integration, _ = make_integration(env["EXTRA_AWS_ENDPOINTS"], "Usage")
    version_content = services.VersionContent(
        request_template=(
            '{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20,'
            ' "messages": [{"role": "user", "content": "{{input}}"}]}'
        ),
        response_path="content[0].text",
        input_tokens_path="usage.input_tokens",
        output_tokens_path="usage.output_tokens",
        samples={"input": "hi"},
    )
    prompt = services.create_prompt(
        name="Bench usage",
        integration=integration,
        feature=Feature.objects.get_or_create(name="Co-pilot")[0],
        content=version_content,
        author=None,
    )
    services.publish(prompt, prompt.versions.get())
    prompt.refresh_from_db()
    row, token = ApiToken.issue("bench usage", all_prompts=True)
    limited, _ = ApiToken.issue("bench limited", all_prompts=True)
    limits.do_set_limits(
        limited, requests_per_minute=10**9, tokens_per_minute=10**9, monthly_budget_usd=None
    )

    n = 300 if quick else 2000
    results: dict[str, Any] = {
        "recording": recording_overhead(integration.pk, prompt.pk, n),
        "limits_redis": (
            limits_overhead(limited.pk, n, redis=True) if os.environ.get("REDIS_URL") else None
        ),
        "limits_database": limits_overhead(limited.pk, n, redis=False),
        "api": api_throughput(
            prompt, token, 128 if quick else 256, clients=8, pairs=4 if quick else 8
        ),
    }

    records = int(os.environ.get("USAGE_BENCH_RECORDS", 0) or (100_000 if quick else 1_000_000))
    combos = int(os.environ.get("USAGE_BENCH_COMBOS", 0) or 40)
    print(f"usage: seeding {records} records and {8760 * combos} rollup rows", flush=True)
    t = time.perf_counter()
    seed(records, combos, [integration.pk], prompt.pk, row.pk)
    results["seeded"] = {
        "records": records,
        "rollups": 8760 * combos,
        "seconds": round(time.perf_counter() - t, 1),
    }

    User = get_user_model()
    viewer = User.objects.create_user("usage-bench", is_staff=True, is_superuser=True)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(viewer)
    last = connection.cursor()
    last.execute(
        "SELECT created, id FROM usage_callrecord"
        " ORDER BY created DESC, id DESC OFFSET 5000 LIMIT 1"
    )
    created, pk = last.fetchone()
    after = f"{created.isoformat().replace('+', '%2B')}_{pk}"
    errors_of_one = f"/usage/calls/?outcome=error&integration={integration.pk}"
    paths = {
        "usage, last hour": "/usage/?range=1h",
        "usage, 24 hours": "/usage/?range=24h",
        "usage, 7 days": "/usage/?range=7d",
        "usage, 30 days": "/usage/?range=30d",
        "integration, 30 days": f"/usage/integrations/{integration.pk}/?range=30d",
        "token, 24 hours": f"/usage/tokens/{row.pk}/",
        "versions, 30 days": f"/usage/prompts/{prompt.pk}/versions/",
        "calls, newest": "/usage/calls/",
        "calls, errors of one integration": errors_of_one,
        "calls, 100 pages in": f"/usage/calls/?after={after}",
        "integration page (24 h chart)": f"/integrations/{integration.pk}/",
    }
    results["pages"] = {
        name: measure(client, path, 5 if quick else 15) for name, path in paths.items()
    }
    return {"usage": results}
