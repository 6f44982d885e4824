"""The Invoke API against its own description (Schemathesis) and a corpus of hostile input.

Every answer under /api/ must be the documented JSON with a fitting status, never a 500. The
description is fetched with an API token, so it holds a typed path for each published prompt
and Schemathesis sends real requests with real variables, besides the malformed ones.
Upstream errors (502/503/504, documented) are allowed: the sandbox refuses some generated
values as Bedrock would.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from config.wsgi import application
from prompts_library import openapi
from prompts_library.models import ApiToken
from tests.prompts.fixtures import make_prompt


@schemathesis.check
def not_a_500(ctx, response, case):
    """Any status the description documents may come, and 5xx from upstream; never 500."""
    if response.status_code == 500:
        raise AssertionError(f"500 for {case.method} {case.formatted_path}")
    content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type")
    streamed = isinstance(case.body, dict) and case.body.get("stream") is True
    if streamed and response.status_code == 200:
        # "stream": true is documented as text/event-stream (tests/prompts/test_api_stream.py).
        if not str(content_type).startswith(("text/event-stream", "['text/event-stream")):
            raise AssertionError(f"not an event stream: {content_type}")
        return
    if not str(content_type).startswith(("application/json", "['application/json")):
        raise AssertionError(f"not JSON: {content_type}")


ALL_BUT_5XX = [c for c in checks.CHECKS.get_all() if c.__name__ != "not_a_server_error"]


@pytest.fixture
def api_token(db, sandbox, bob):
    make_prompt()
    # All integrations too: the OpenAI-compatible endpoints are fuzzed with the same token.
    return ApiToken.issue("fuzz", bob, all_prompts=True, all_integrations=True)[1]


@pytest.fixture
def api_schema(api_token):
    # The WSGI calls run inside the test's transaction: keep its connection open across them,
    # as Django's test client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", application, headers={"Authorization": f"Bearer {api_token}"}
    )
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def test_the_api_holds_its_description(api_schema, api_token):
    """Every operation of the served description, valid and invalid data, all checks."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # The generic path and the typed one of the published prompt; the gateway's three.
    assert len(operations) == 5
    for operation in operations:

        @given(case=operation.as_strategy())
        @FUZZ
        def check(case):
            case.call_and_validate(
                headers={"Authorization": f"Bearer {api_token}"},
                checks=[*ALL_BUT_5XX, not_a_500],
            )

        check()


def test_the_description_types_each_prompts_variables(client, api_token):
    doc = client.get(
        "/api/v1/openapi.json", headers={"authorization": f"Bearer {api_token}"}
    ).json()
    typed = doc["paths"]["/api/v1/prompts/support-answer/invoke"]["post"]["requestBody"]
    media = typed["content"]["application/json"]
    assert media["schema"]["required"] == ["max_tokens", "question"]
    assert media["schema"]["properties"] == {
        "max_tokens": {"type": "integer"},
        "question": {"type": "string"},
        "stream": openapi.STREAM_PROPERTY,  # not a variable: the option to stream the answer
    }
    assert media["example"]["max_tokens"] == 64
    # Without a token: only the generic paths, no prompt names.
    anonymous = client.get("/api/v1/openapi.json").json()
    assert list(anonymous["paths"]) == [
        "/api/v1/prompts/{ref}/invoke",
        "/api/v1/models",
        "/api/v1/models/{name}",
        "/api/v1/chat/completions",
    ]


DEEP = 1000  # json's C parser stops near Python's recursion limit

HOSTILE_BODIES = {
    "huge_int": b'{"question": "q", "max_tokens": ' + b"9" * 5000 + b"}",
    "big_int": b'{"question": "q", "max_tokens": ' + b"9" * 400 + b"}",
    "overflowing_float": b'{"question": "q", "max_tokens": 1e999}',
    "negative_overflow": b'{"question": "q", "max_tokens": -1e999}',
    "tiny_float": b'{"question": "q", "max_tokens": 1e-999}',
    "minus_zero": b'{"question": "q", "max_tokens": -0.0}',
    "nested_just_under": b'{"question": "q", "max_tokens": '
    + b"[" * (DEEP - 5)
    + b"]" * (DEEP - 5)
    + b"}",
    "nested_over": b'{"question": "q", "max_tokens": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nested_objects": b'{"question": "q", "max_tokens": '
    + b'{"a":' * 500
    + b"1"
    + b"}" * 500
    + b"}",
    "nul_in_value": b'{"question": "a\\u0000b", "max_tokens": 5}',
    "lone_surrogate": b'{"question": "\\ud800", "max_tokens": 5}',
    "invalid_utf8": b'{"question": "\xff\xfe", "max_tokens": 5}',
    "bom": b'\xef\xbb\xbf{"question": "q", "max_tokens": 5}',
    "duplicate_keys": b'{"question": "a", "question": "b", "max_tokens": 5}',
    "nan": b'{"question": "q", "max_tokens": NaN}',
    "array": b"[]",
    "empty_key": b'{"": 1}',
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_bodies_never_get_a_500(client, sandbox, bob, name):
    prompt = make_prompt()
    token = ApiToken.issue("t", bob, all_prompts=True)[1]
    r = client.post(
        f"/api/v1/prompts/{prompt.slug}/invoke",
        HOSTILE_BODIES[name],
        content_type="application/json",
        headers={"authorization": f"Bearer {token}"},
    )
    assert r.status_code != 500 and r.status_code < 600, r.content[:300]
    assert r["Content-Type"] == "application/json"
    body = r.json()
    # Errors from the model calls also list the integrations tried (fallbacks).
    upstream = r.status_code in (502, 503, 504) and set(body) == {"error", "attempts"}
    assert set(body) == {"error"} or upstream or r.status_code == 200, body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer \x00"},
        {"authorization": "Bearer x\x00y", "user-agent": "agent\x00"},
        {"authorization": "Basic abc"},
        {"authorization": "Bearer " + "x" * 10_000},
        {"authorization": "bearer\tTAB"},
        {"authorization": "Bearer ü"},
    ],
)
def test_hostile_headers_never_get_a_500(client, sandbox, bob, headers):
    prompt = make_prompt()
    r = client.post(
        f"/api/v1/prompts/{prompt.slug}/invoke",
        json.dumps({"question": "q", "max_tokens": 5}),
        content_type=headers.pop("content-type", "application/json"),
        headers=headers,
    )
    assert r.status_code in (400, 401, 415), r.content[:300]
    assert r.json()["error"]["code"]


@pytest.mark.django_db
def test_a_nul_user_agent_on_a_valid_call_is_recorded_escaped(client, sandbox, bob):
    prompt = make_prompt()
    token = ApiToken.issue("t", bob, all_prompts=True)[1]
    r = client.post(
        f"/api/v1/prompts/{prompt.slug}/invoke",
        json.dumps({"question": "q", "max_tokens": 5}),
        content_type="application/json",
        headers={"authorization": f"Bearer {token}", "user-agent": "agent\x00x"},
    )
    assert r.status_code == 200, r.content


@pytest.mark.django_db
def test_a_nul_in_the_content_type_is_a_json_error_not_a_server_crash(sandbox, bob):
    from werkzeug.test import Client

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        prompt = make_prompt()
        token = ApiToken.issue("t", bob, all_prompts=True)[1]
        r = Client(application).post(
            f"/api/v1/prompts/{prompt.slug}/invoke",
            data=json.dumps({"question": "q", "max_tokens": 5}),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json; charset=\x00",
            },
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert r.status_code == 200, r.data[:300]


@pytest.mark.django_db(transaction=True)
def test_chunked_and_huge_bodies_through_gunicorn(sandbox, bob, worker_env, tmp_path):
    """A chunked body is read; a body over the limit gets the JSON 413 whatever its size."""
    import http.client

    from tests.processes import WebServer

    prompt = make_prompt()
    token = ApiToken.issue("t", bob, all_prompts=True)[1]
    web = WebServer(worker_env, tmp_path / "web.log").start()
    path = f"/api/v1/prompts/{prompt.slug}/invoke"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(chunks, extra=None):
        conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=60)
        conn.putrequest("POST", path)
        for name, value in {**headers, **(extra or {"Transfer-Encoding": "chunked"})}.items():
            conn.putheader(name, value)
        conn.endheaders()
        try:
            for chunk in chunks:
                if extra is None:
                    conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                else:
                    conn.send(chunk)
            if extra is None:
                conn.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered before reading it all
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), json.loads(r.read())

    try:
        body = json.dumps({"question": "chunked", "max_tokens": 5}).encode()
        status, kind, answer = send([body[:10], body[10:]])
        assert (status, kind) == (200, "application/json"), answer
        assert answer["prompt_version"] == 1

        megabyte = b"x" * (1024 * 1024)
        status, kind, answer = send([b'{"question": "', *[megabyte] * 50, b'"}'])
        assert (status, answer["error"]["code"]) == (413, "payload_too_large")
        # Announced too large: refused before any of it is read.
        status, kind, answer = send([b"{}"], {"Content-Length": str(10 * 1024**3)})
        assert (status, answer["error"]["code"]) == (413, "payload_too_large")
    finally:
        web.stop()
