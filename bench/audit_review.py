"""Reviewing a large audit trail: the admin's list with filters, timelines, an event page, an
export and a full verification, on a seeded trail (`./console bench --only audit`).

The trail is seeded as one valid chain of varied events (actions, kinds of object, 20 actors,
250 addresses, a year of dates); each page is requested in this process with Django's test
client, so the time is server time (middleware, queries, template), with its queries counted.
AUDIT_BENCH_EVENTS sets the size (default 1,000,000).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

PARTS = ("audit",)
URL = "/admin/audit/auditevent/"

KINDS = (
    # object type, how many objects, actions
    ("integrations.bedrockmodel", 200, ("update", "test_started", "test_finished", "create")),
    ("prompts_library.prompt", 500, ("update", "publish", "test_finished", "rollback")),
    ("prompts_library.promptversion", 5000, ("create",)),
    ("prompts_library.apitoken", 50, ("token_used", "token_used", "token_used", "create")),
    ("auth.user", 20, ("login", "logout", "login_failed", "roles")),
)


def _event_values(i: int, n: int, base: datetime, actors: list[tuple[int, str]]) -> dict:
    object_type, objects, actions = KINDS[i % len(KINDS)]
    action = actions[(i // len(KINDS)) % len(actions)]
    actor_id, actor_repr = actors[(i * 7) % len(actors)]
    oid = (i * 31) % objects + 1
    if action == "update":
        changes: dict[str, Any] = {"name": [f"name {i - 1}", f"name {i}"]}
    elif action == "test_finished":
        changes = {"test_id": i, "status": "failed" if i % 3 == 0 else "succeeded"}
    elif action == "token_used":
        changes = {"method": "POST", "path": "/api/v1/prompts/x/invoke"}
    else:
        changes = {}
    return {
        # A year of events, oldest first.
        "created": base + timedelta(seconds=365 * 86400 * i / n),
        "actor_id": actor_id,
        "actor_repr": actor_repr,
        "ip": f"203.0.113.{i % 250 + 1}",
        "user_agent": "bench",
        "action": action,
        "object_type": object_type,
        "object_id": str(oid),
        "object_repr": f"{object_type.rsplit('.', 1)[1]} {oid}",
        "changes": changes,
    }


def seed(n: int, actors: list[tuple[int, str]], budget_s: float = 900.0) -> int:
    from django.db import transaction

    from audit.models import AuditEvent, ChainHead

    head, _ = ChainHead.objects.get_or_create(pk=1)
    prev = head.last_hash
    base = datetime.now(UTC) - timedelta(days=366)
    started, written = time.monotonic(), 0
    while written < n and time.monotonic() - started < budget_s:
        rows = []
        for i in range(written, min(n, written + 10_000)):
            values = _event_values(i, n, base, actors)
            payload = {**values, "created": values["created"].isoformat(), "prev_hash": prev}
            # The canonical payload of AuditEvent.compute_hash, built here (plain JSON values).
            digest = hashlib.sha256(
                json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
            ).hexdigest()
            rows.append(AuditEvent(**values, prev_hash=prev, hash=digest))
            prev = digest
        with transaction.atomic():
            AuditEvent.objects.bulk_create(rows, batch_size=2000)
            ChainHead.objects.filter(pk=1).update(last_hash=prev)
        written += len(rows)
    return written


def views(
    actor_id: int, actor_name: str, event_id: int, author_id: int | None = None
) -> list[tuple[str, str, dict]]:
    """The pages timed. The seed ties each actor to one kind of object: `actor_id` (actors[3]
    in run_all) acts only on users, so "what a person did" with integrations and the combined
    filter find nothing (the worst case: no row stops the scan early); `author_id` (actors[2])
    publishes prompts, so the "(found)" views list events. Timelines name objects that have
    events (integrations 1, 6, 11, …; tokens 4, 9, 14, …)."""
    end = datetime.now(UTC).date()
    month = (end - timedelta(days=200)).isoformat(), (end - timedelta(days=170)).isoformat()
    author = author_id if author_id is not None else actor_id
    found = [
        ("what a person did (found)", URL, {"actor__id__exact": author, "kind": "prompt"}),
        (
            "kind + action + actor + dates (found)",
            URL,
            {
                "kind": "prompt",
                "action__exact": "publish",
                "actor__id__exact": author,
                "from": month[0],
                "to": month[1],
            },
        ),
    ]
    return [
        ("list", URL, {}),
        ("list, page 100", URL, {"p": "100"}),
        ("kind", URL, {"kind": "integration"}),
        ("action", URL, {"action__exact": "rollback"}),
        ("test outcome", URL, {"outcome": "failed"}),
        ("actor", URL, {"actor__id__exact": actor_id}),
        ("date range (a month)", URL, {"from": month[0], "to": month[1]}),
        (
            "kind + action + actor + dates",
            URL,
            {
                "kind": "prompt",
                "action__exact": "publish",
                "actor__id__exact": actor_id,
                "from": month[0],
                "to": month[1],
            },
        ),
        ("search: IP address", URL, {"q": "203.0.113.77"}),
        ("search: object name (rare)", URL, {"q": "promptversion 4321"}),
        ("search: actor", URL, {"q": actor_name}),
        (
            "timeline: an integration",
            URL,
            {"object_type": "integrations.bedrockmodel", "object_id": "16"},
        ),
        (
            "timeline: an API token",
            URL,
            {"object_type": "prompts_library.apitoken", "object_id": "9"},
        ),
        ("what a person did", URL, {"actor__id__exact": actor_id, "kind": "integration"}),
        *found,
        ("event page", f"{URL}{event_id}/change/", {}),
    ]


def measure(client: Any, path: str, params: dict, n: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as q:
        r = client.get(path, params)
    if r.status_code != 200:
        raise RuntimeError(f"{path} {params}: {r.status_code}")
    queries = len(q)  # now: the next request resets the connection's query log
    times = []
    for _ in range(n):
        t = time.perf_counter()
        client.get(path, params)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {
        "queries": queries,
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
        "rows": len(r.context["cl"].result_list) if r.context and "cl" in r.context else None,
    }


def run_all(env: dict[str, str], var_dir: Any, quick: bool, parts: tuple[str, ...]) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from audit import verify
    from audit.models import AuditEvent

    wanted = int(os.environ.get("AUDIT_BENCH_EVENTS", 0) or (100_000 if quick else 1_000_000))
    print(f"audit review: seeding {wanted} events", flush=True)
    User = get_user_model()
    reviewer = User.objects.create_user("reviewer", is_staff=True, is_superuser=True)
    actors = [
        (u.pk, u.username) for u in [User.objects.create_user(f"actor{i}") for i in range(20)]
    ]
    t = time.monotonic()
    events = seed(wanted, actors)
    seeded_s = time.monotonic() - t
    print(f"   seeded {events} in {seeded_s:.0f} s", flush=True)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as c:
            c.execute("ANALYZE audit_auditevent")
    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host, as over HTTP
    client.force_login(reviewer)
    event = AuditEvent.objects.filter(action="update", object_type="prompts_library.prompt").last()
    assert event is not None
    pages = {}
    for name, path, params in views(actors[3][0], actors[3][1], event.pk, actors[2][0]):
        pages[name] = measure(client, path, params, 5 if quick else 15)
        print(f"   {name}: {pages[name]}", flush=True)

    # An export of a filtered view: rows per second and the process's peak memory.
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    r = client.get(URL + "export.jsonl", {"kind": "api-token"})
    lines = sum(chunk.count(b"\n") for chunk in r.streaming_content)
    export_s = time.perf_counter() - t
    after_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    state = verify.check()
    verify_s = time.perf_counter() - t
    return {
        "audit": {
            "events": events,
            "wanted": wanted,
            "seed_s": round(seeded_s),
            "pages": pages,
            "export": {
                "lines": lines,
                "seconds": round(export_s, 1),
                "lines_per_s": round(lines / export_s) if export_s else None,
                "peak_rss_growth_mb": round((after_kb - before_kb) / 1024, 1),
            },
            "verify": {"events": state.events_checked, "seconds": round(verify_s, 1)},
        }
    }
