"""The OpenAI-compatible gateway against plain boto3 Converse on the same sandbox.

`./console bench --only gateway`: one client, calls one after another (keep-alive), alternating
the gateway (POST /api/v1/chat/completions on gunicorn with 2 uvicorn workers) and a hand-written
boto3 caller (credentials assumed once). Plain: the whole answer; streamed: the first content
chunk of the gateway's SSE against boto3 converse_stream's first text delta.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any

from bench.runs import Sandbox, make_integration, plain_client, start_services, summary

PARTS = ("gateway",)

MESSAGES = [{"role": "user", "content": "Where is my order?"}]
CONVERSE_MESSAGES = [{"role": "user", "content": [{"text": "Where is my order?"}]}]
MAX_TOKENS = 64


class Gateway:
    def __init__(self, port: int, token: str, model: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.model = model

    def _send(self, stream: bool) -> http.client.HTTPResponse:
        body = {"model": self.model, "messages": MESSAGES, "max_tokens": MAX_TOKENS}
        if stream:
            body["stream"] = True
        self.conn.request("POST", "/api/v1/chat/completions", json.dumps(body), self.headers)
        r = self.conn.getresponse()
        if r.status != 200:
            raise RuntimeError(f"chat completions: {r.status} {r.read()[:300]!r}")
        return r

    def complete(self) -> float:
        t = time.perf_counter()
        r = self._send(stream=False)
        json.loads(r.read())["choices"][0]["message"]["content"]
        return (time.perf_counter() - t) * 1000

    def first_chunk(self) -> tuple[float, float]:
        """(ms to the first content chunk, ms to the end of the stream)."""
        t = time.perf_counter()
        r = self._send(stream=True)
        first = None
        while line := r.readline():
            if (
                first is None
                and line.startswith(b"data: {")
                and json.loads(line[6:])["choices"][0]["delta"].get("content")
            ):
                first = (time.perf_counter() - t) * 1000
            if line.startswith(b"data: [DONE]"):
                break
        r.read()
        if first is None:
            raise RuntimeError("the stream brought no text")
        return first, (time.perf_counter() - t) * 1000


def plain_converse(client: Any) -> float:
    from sandbox import DEMO_MODEL_ID

    t = time.perf_counter()
    client.converse(
        modelId=DEMO_MODEL_ID,
        messages=CONVERSE_MESSAGES,
        inferenceConfig={"maxTokens": MAX_TOKENS},
    )
    return (time.perf_counter() - t) * 1000


def plain_first_event(client: Any) -> tuple[float, float]:
    from sandbox import DEMO_MODEL_ID

    t = time.perf_counter()
    r = client.converse_stream(
        modelId=DEMO_MODEL_ID,
        messages=CONVERSE_MESSAGES,
        inferenceConfig={"maxTokens": MAX_TOKENS},
    )
    first = None
    for event in r["stream"]:
        if first is None and "contentBlockDelta" in event:
            first = (time.perf_counter() - t) * 1000
    if first is None:
        raise RuntimeError("the stream brought no text")
    return first, (time.perf_counter() - t) * 1000


def bench_gateway(port: int, sandbox: Sandbox, sandbox_url: str, n: int) -> dict[str, Any]:
    from prompts_library import tokens

    sandbox.delay(0)
    integration, _ = make_integration(sandbox_url, "Gateway")
    token = tokens.issue_token("bench gateway", None, integrations=[integration])[1]
    gateway = Gateway(port, token, integration.api_name)
    plain = plain_client(sandbox_url)
    for _ in range(20):  # warm connections, credentials and caches on both sides
        gateway.complete()
        plain_converse(plain)
        gateway.first_chunk()
        plain_first_event(plain)
    ours, theirs = [], []
    for _ in range(n):
        ours.append(gateway.complete())
        theirs.append(plain_converse(plain))
    first_ours, first_theirs, end_ours, end_theirs = [], [], [], []
    for _ in range(n):
        a, b = gateway.first_chunk()
        first_ours.append(a)
        end_ours.append(b)
        c, d = plain_first_event(plain)
        first_theirs.append(c)
        end_theirs.append(d)
    g, p = summary(ours), summary(theirs)
    fg, fp = summary(first_ours), summary(first_theirs)
    return {
        "gateway": g,
        "plain": p,
        "overhead_median": g["median"] - p["median"],
        "first_chunk": fg,
        "plain_first_event": fp,
        "first_chunk_overhead_median": fg["median"] - fp["median"],
        "stream_end": summary(end_ours),
        "plain_stream_end": summary(end_theirs),
    }


def run_all(env: dict[str, str], var_dir: Path, quick: bool, parts: tuple[str, ...]) -> dict:
    sandbox_url = env["EXTRA_AWS_ENDPOINTS"]
    web, worker, port = start_services(env, var_dir)
    try:
        print("gateway: chat completions vs boto3 Converse", flush=True)
        return {
            "gateway": bench_gateway(port, Sandbox(sandbox_url), sandbox_url, 50 if quick else 200)
        }
    finally:
        for proc in (web, worker):
            proc.terminate()
            proc.wait(30)
