"""The setup page's Test in a real browser, against plain boto3 on the same sandbox.

`./console bench --only browser`: Debian's Chromium (headless, driven by Playwright) signs in
once and opens an integration's edit page (the setup form, filled with its values), on the
production server (gunicorn with 2 uvicorn workers) and the real Celery worker. Then, sample
after sample, alternating with a hand-written boto3 caller (credentials assumed once):

- plain Test (Stream off): click Test → the final result ("Success") in the DOM, against
  boto3 InvokeModel with the same body;
- streamed Test (Stream on): click Test → the first streamed words in the DOM, against the
  first text chunk of boto3 InvokeModelWithResponseStream (what the streamed Test calls for the
  InvokeModel request format); also the final result against the end of boto3's stream.

Every browser time is measured in the page: a capture-phase click listener takes the click
event's own timestamp and a MutationObserver on the result box takes performance.now() when the
words or the result are inserted, so Playwright's round trips are not counted. The frame after
(requestAnimationFrame, when Chromium paints) is recorded too.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

from bench.runs import (
    Sandbox,
    make_integration,
    plain_client,
    plain_invoke,
    start_services,
    summary,
)

# Chromium as the browser tests launch it (Debian's, in the same configuration).
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

PARTS = ("browser",)

INVOKE_DELAY_MS = 200  # the model's time to its first byte (and, unstreamed, to its answer)
STREAM_INTERVAL_MS = 40  # between the stream's events: the words arrive over ~0.5 s
PASSWORD = secrets.token_urlsafe(16)

# Installed once in the setup page. Times are performance.now() (the click event's timeStamp is
# on the same clock). A Test's result counts only once it is about a new test (data-test).
INSTRUMENT = """() => {
  const box = document.getElementById("test-result");
  const m = window.__bench = {click: null};
  const current = () => {
    const s = box.querySelector(".test-status[data-test]");
    return s ? s.dataset.test : null;
  };
  const look = () => {
    if (m.click === null) return;
    const now = performance.now();
    const test = current();
    if (test === null || test === m.before) return;
    if (m.shown === null) m.shown = now;
    if (m.first === null) {
      const words = box.querySelector(".output.streaming");
      if (words && words.textContent.trim()) {
        m.first = now;
        m.firstText = words.textContent;
        requestAnimationFrame(() => { m.firstFrame = performance.now(); });
      }
    }
    if (m.final === null) {
      const result = box.querySelector(".test-status .result h3");
      if (result) {
        m.final = now;
        m.test = test;
        m.heading = result.textContent.trim();
        m.output = (box.querySelector(".result .output") || {}).textContent || "";
        requestAnimationFrame(() => { m.finalFrame = performance.now(); });
      }
    }
  };
  window.addEventListener("click", (event) => {
    if (!(event.target.closest && event.target.closest("#test-button"))) return;
    Object.assign(m, {click: event.timeStamp, before: current(), shown: null, first: null,
                      firstText: "", firstFrame: null, final: null, finalFrame: null, test: null});
  }, true);
  new MutationObserver(look).observe(box, {childList: true, subtree: true, characterData: true});
}"""
DONE = "() => window.__bench.final !== null && window.__bench.finalFrame !== null"


def text_of_chunk(event: dict[str, Any]) -> str:
    """The text an InvokeModelWithResponseStream event carries (an Anthropic Messages chunk)."""
    chunk = event.get("chunk")
    if not chunk:
        return ""
    raw = chunk.get("bytes")
    if not isinstance(raw, bytes | str):
        return ""
    data = json.loads(raw)
    delta = data.get("delta") if isinstance(data, dict) else None
    return delta.get("text", "") if isinstance(delta, dict) else ""


def plain_stream(client: Any, body: bytes) -> tuple[float, float, float]:
    """(ms to the first event, ms to the first text, ms to the end of the stream)."""
    from sandbox import DEMO_MODEL_ID

    t = time.perf_counter()
    r = client.invoke_model_with_response_stream(
        modelId=DEMO_MODEL_ID, body=body, contentType="application/json", accept="application/json"
    )
    first_event = first_text = None
    for event in r["body"]:
        now = (time.perf_counter() - t) * 1000
        if first_event is None:
            first_event = now
        if first_text is None and text_of_chunk(event):
            first_text = now
    if first_event is None or first_text is None:
        raise RuntimeError("the stream brought no text")
    return first_event, first_text, (time.perf_counter() - t) * 1000


def click_test(page: Any, stream: bool) -> dict[str, Any]:
    """Click Test and wait for the final result; the page's own timings, in ms from the click."""
    page.get_by_role("button", name="Test", exact=True).click()
    page.wait_for_function(DONE, timeout=30_000)
    m = page.evaluate("() => window.__bench")
    if m["heading"] != "Success" or "Hello from the Bedrock sandbox" not in m["output"]:
        raise RuntimeError(f"the Test did not succeed: {m}")
    out = {
        "shown": m["shown"] - m["click"],  # the Test POST's answer (the queued test) swapped in
        "final": m["final"] - m["click"],
        "final_frame": m["finalFrame"] - m["click"],
    }
    if stream:
        if m["first"] is None:
            raise RuntimeError(f"no streamed words were seen before the result: {m}")
        out["first"] = m["first"] - m["click"]
        out["first_frame"] = (m["firstFrame"] or m["final"]) - m["click"]
        out["first_text"] = m["firstText"].strip()
    return out


def set_stream(page: Any, on: bool) -> None:
    """Tick or untick Stream; the form's change asks the server for suggestions: let it land."""
    with page.expect_response(lambda r: "/integrations/assist/" in r.url):
        page.get_by_label("Stream").set_checked(on)
    page.wait_for_timeout(300)


def measure(page: Any, plain: Any, body: bytes, n: int, warm: int) -> dict[str, Any]:
    set_stream(page, False)
    console, baseline, frames, shown = [], [], [], []
    for i in range(warm + n):  # interleaved, so that both see the same machine
        c = click_test(page, stream=False)
        p = plain_invoke(plain, body)
        if i >= warm:
            console.append(c["final"])
            frames.append(c["final_frame"])
            shown.append(c["shown"])
            baseline.append(p)

    set_stream(page, True)
    first, first_frames, final, plain_event, plain_text, plain_end = [], [], [], [], [], []
    words = []
    for i in range(warm + n):
        c = click_test(page, stream=True)
        e, t, end = plain_stream(plain, body)
        if i >= warm:
            first.append(c["first"])
            first_frames.append(c["first_frame"])
            final.append(c["final"])
            words.append(len(c["first_text"].split()))
            plain_event.append(e)
            plain_text.append(t)
            plain_end.append(end)

    c, b = summary(console), summary(baseline)
    f, pt = summary(first), summary(plain_text)
    fin, pe = summary(final), summary(plain_end)
    return {
        "invoke_delay_ms": INVOKE_DELAY_MS,
        "stream_interval_ms": STREAM_INTERVAL_MS,
        "test": {
            "console": c,
            "console_frame": summary(frames),
            "started_on_page": summary(shown),
            "plain": b,
            "overhead_median": c["median"] - b["median"],
            "overhead_p95": c["p95"] - b["p95"],
        },
        "stream": {
            "first_words": f,
            "first_words_frame": summary(first_frames),
            "plain_first_text": pt,
            "plain_first_event": summary(plain_event),
            "first_words_overhead_median": f["median"] - pt["median"],
            "first_words_overhead_p95": f["p95"] - pt["p95"],
            "words_in_first_update_median": sorted(words)[len(words) // 2],
            "final": fin,
            "plain_stream_end": pe,
            "final_overhead_median": fin["median"] - pe["median"],
        },
    }


def run_all(env: dict[str, str], var_dir: Path, quick: bool, parts: tuple[str, ...]) -> dict:
    from django.contrib.auth import get_user_model

    from bedrock import families

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Debian's chromium is needed at {CHROMIUM} (apt-get install chromium)")
    sandbox_url = env["EXTRA_AWS_ENDPOINTS"]
    sandbox = Sandbox(sandbox_url)
    web, worker, port = start_services(env, var_dir)
    try:
        print("browser: Test in Chromium vs boto3 InvokeModel (and its stream)", flush=True)
        sandbox.call(
            "PUT",
            "config",
            {
                "invoke_delay_ms": INVOKE_DELAY_MS,
                "sts_delay_ms": 0,
                "stream_interval_ms": STREAM_INTERVAL_MS,
            },
        )
        # Everything in the database first: Playwright's sync API runs an event loop in this
        # thread, where Django refuses ORM calls.
        get_user_model().objects.create_user(
            "browserbench", "browserbench@example.org", PASSWORD, is_staff=True, is_superuser=True
        )
        integration, config = make_integration(sandbox_url, "Browser bench")
        body = families.default_request_json(families.FAMILIES["anthropic"]).encode()
        if config.request_json.encode() != body:
            raise RuntimeError("the integration's request is not the default Anthropic body")
        plain = plain_client(sandbox_url)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(base_url=f"http://127.0.0.1:{port}")
                page = context.new_page()
                page.set_default_timeout(30_000)
                page.goto("/accounts/login/")
                page.get_by_label("Username").fill("browserbench")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/")
                page.goto(f"/integrations/{integration.pk}/edit/")
                page.evaluate(INSTRUMENT)
                result = measure(page, plain, body, 15 if quick else 40, warm=3)
            finally:
                browser.close()
        return {"browser": result}
    finally:
        for proc in (web, worker):
            proc.terminate()
            proc.wait(30)
