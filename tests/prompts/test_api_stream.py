"""`"stream": true` in the Invoke API: text/event-stream, read by an SSE client library over ASGI."""

import json
import time

import httpx
import pytest
from httpx_sse import connect_sse

from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import make_prompt
from tests.prompts.test_api import invoke, prompt, token  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"question": "Stream it", "max_tokens": 100}


def stream(live_server, ref: str, token: str, body: dict) -> list[tuple[str, dict, float]]:  # noqa: F811
    """Every event of the streamed answer: (name, data, seconds since the request)."""
    started = time.monotonic()
    with (
        httpx.Client(base_url=live_server.url, timeout=30) as http,
        connect_sse(
            http,
            "POST",
            f"/api/v1/prompts/{ref}/invoke",
            json={**body, "stream": True},
            headers={"Authorization": f"Bearer {token}"},
        ) as source,
    ):
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [
            (e.event, json.loads(e.data), time.monotonic() - started)
            for e in source.iter_sse()
            if e.data
        ]


def test_it_streams_the_same_text_as_the_plain_call(live_server, client, sandbox, prompt, token):  # noqa: F811
    plain = invoke(client, prompt.slug, BODY, token).json()
    sandbox.state.set_config(stream_interval_ms=100)
    got = stream(live_server, prompt.slug, token, BODY)
    names = [name for name, _, _ in got]
    assert names[-1] == "done" and set(names[:-1]) == {"text"} and len(names) > 4
    assert "".join(data["text"] for name, data, _ in got if name == "text") == plain["text"]
    done = got[-1][1]
    assert set(done) == {
        "usage",
        "latency_ms",
        "prompt_version",
        "request_id",
        "served_by",
        "attempts",
    }
    assert done["usage"] == plain["usage"] and done["prompt_version"] == 1
    assert done["request_id"] and isinstance(done["latency_ms"], int)
    # Not buffered: the first words arrive long before the answer ends.
    assert got[-1][2] - got[0][2] > 0.5
    operations = [r["operation"] for r in sandbox.state.requests()]
    assert operations[-1] == "InvokeModelWithResponseStream"


def test_it_streams_through_a_global_inference_profile(live_server, sandbox, alice, token):  # noqa: F811
    model_id = "global.anthropic.claude-3-haiku-20240307-v1:0"
    integration = make_integration(name="Haiku global", model_id=model_id)
    profiled = make_prompt(alice, name="Global", integration=integration)
    got = stream(live_server, profiled.slug, token, BODY)
    assert got[-1][0] == "done"
    text = "".join(data["text"] for name, data, _ in got if name == "text")
    assert text.startswith("Hello from the Bedrock sandbox. You said: Stream it")
    [call] = sandbox.state.requests()
    assert (call["operation"], call["model_id"]) == ("InvokeModelWithResponseStream", model_id)


def test_a_stream_broken_mid_way_ends_with_an_error_event(live_server, sandbox, prompt, token):  # noqa: F811
    sandbox.state.add_fault("invoke", "stream_error", after=2, code="modelStreamErrorException")
    got = stream(live_server, prompt.slug, token, BODY)
    assert [name for name, _, _ in got] == ["text", "text", "error"]
    assert "".join(data["text"] for _, data, _ in got[:2]) == "Hello from"
    error = got[-1][1]["error"]
    assert error["code"] == "upstream_error"
    assert error["message"].startswith("ModelStreamErrorException")


def test_bad_variables_are_a_json_error_not_a_stream(live_server, sandbox, prompt, token):  # noqa: F811
    r = httpx.post(
        f"{live_server.url}/api/v1/prompts/{prompt.slug}/invoke",
        json={"stream": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "missing_variable"
    assert sandbox.state.stats()["invoke_calls"] == 0


def test_the_openapi_document_describes_the_stream(client, prompt, token):  # noqa: F811
    r = client.get("/api/v1/openapi.json", HTTP_AUTHORIZATION=f"Bearer {token}")
    paths = r.json()["paths"]
    operation = paths[f"/api/v1/prompts/{prompt.slug}/invoke"]["post"]
    streamed = operation["responses"]["200"]["content"]["text/event-stream"]
    for event in ("event: text", "event: done", "event: error"):
        assert event in streamed["schema"]["description"]
    variables = operation["requestBody"]["content"]["application/json"]["schema"]
    assert variables["properties"]["stream"]["type"] == "boolean"
    assert "stream" not in variables["required"]
