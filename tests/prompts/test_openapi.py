"""The OpenAPI description is kept true: real API responses validate against it, and its error
codes are exactly those that api.py (and the services it relays) can return."""

from __future__ import annotations

import ast
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.urls import resolve
from django.utils import timezone

from gateway import views as gateway_views
from prompts_library import api, openapi, services
from prompts_library.models import ApiToken, PromptVersion
from tests.prompts.fixtures import make_prompt
from tests.prompts.test_api import QUESTION, invoke
from usage import limits

PATH = "/api/v1/prompts/{ref}/invoke"
BODY = {"question": QUESTION, "max_tokens": 16}


# --- a tiny JSON Schema validator for the subset the document uses ---------------------------

TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
KNOWN = {
    "type",
    "enum",
    "const",
    "required",
    "properties",
    "additionalProperties",
    "description",
    "items",
}


def errors(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    unknown = set(schema) - KNOWN
    assert not unknown, f"the validator does not support {unknown} (at {where})"
    found: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[t](value) for t in types):
            return [f"{where}: {value!r} is not of type {types}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        found.append(f"{where}: {value!r} is not {schema['const']!r}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += errors(item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        found += [
            f"{where}: {k!r} is required" for k in schema.get("required", ()) if k not in value
        ]
        for key, item in value.items():
            if key in props:
                found += errors(item, props[key], f"{where}.{key}")
            elif schema.get("additionalProperties", True) is False:
                found.append(f"{where}: {key!r} is not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += errors(item, schema["additionalProperties"], f"{where}.{key}")
    return found


def test_the_validator_catches_what_it_should():
    schema = openapi.SUCCESS_SCHEMA
    good = {
        "text": "t",
        "usage": {"input_tokens": 1, "output_tokens": None},
        "latency_ms": 3,
        "prompt_version": 1,
        "request_id": "r",
        "served_by": "7",
        "attempts": [
            {
                "integration": "7",
                "ok": True,
                "skipped": False,
                "error_code": None,
                "message": None,
                "http_status": 200,
                "latency_ms": 12,
            }
        ],
    }
    assert errors(good, schema) == []
    assert errors({**good, "attempts": [{**good["attempts"][0], "ok": "yes"}]}, schema)
    assert errors({**good, "extra": 1}, schema)
    assert errors({k: v for k, v in good.items() if k != "text"}, schema)
    assert errors({**good, "latency_ms": True}, schema)
    assert errors({**good, "latency_ms": 1.5}, schema)
    assert errors({**good, "usage": {"input_tokens": "1", "output_tokens": 1}}, schema)
    error_schema = openapi._error_schema(["not_found"])
    assert errors({"error": {"code": "not_found", "message": "m"}}, error_schema) == []
    assert errors({"error": {"code": "forbidden", "message": "m"}}, error_schema)


# --- the codes api.py can return, read from its code -------------------------------------------


def _module_tree(module) -> ast.Module:
    return ast.parse(inspect.getsource(module))


def _invoke_error_codes() -> dict[str, set[int]]:
    """Every InvokeError(code, message, status) that services.py raises."""
    found: dict[str, set[int]] = {}
    for node in ast.walk(_module_tree(services)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "InvokeError":
            code, _, status = node.args[:3]
            assert isinstance(code, ast.Constant) and isinstance(status, ast.Constant)
            found.setdefault(code.value, set()).add(status.value)
    return found


def codes_in_api() -> dict[str, set[int]]:
    """code -> HTTP statuses, for every error(...) that api.py returns."""
    tree = _module_tree(api)
    found: dict[str, set[int]] = {}
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        assigned = {
            t.id: node.value
            for node in ast.walk(func)
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        for node in ast.walk(func):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "error"):
                continue
            code, status = node.args[0], node.args[2]
            if isinstance(code, ast.Attribute):  # error(e.code, e.message, e.status): relayed
                assert ast.unparse(node.args[2]) == "e.status", ast.unparse(node)
                for c, statuses in _invoke_error_codes().items():
                    found.setdefault(c, set()).update(statuses)
                continue
            assert isinstance(status, ast.Constant), ast.unparse(node)
            # error(code, ...) after code = e.code if e.code in (...) else "...", or a literal
            sources = [assigned[code.id]] if isinstance(code, ast.Name) else [code]
            strings = {
                n.value
                for s in sources
                for n in ast.walk(s)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            }
            assert strings, ast.unparse(node)
            for c in strings:
                found.setdefault(c, set()).add(status.value)
    return found


def documented_codes(doc: dict[str, Any]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for status, response in doc["paths"][PATH]["post"]["responses"].items():
        if status == "200":
            continue
        schema = response["content"]["application/json"]["schema"]
        for code in schema["properties"]["error"]["properties"]["code"]["enum"]:
            found.setdefault(code, set()).add(int(status))
    return found


def test_the_documented_error_codes_are_exactly_those_api_py_returns():
    derived = codes_in_api()
    # The token's limits answer for themselves (usage.limits), when api.py asks them.
    assert "limits.admit(" in inspect.getsource(api)
    for code in (limits.RATE_LIMITED, limits.BUDGET_EXCEEDED):
        derived.setdefault(code, set()).add(limits.STATUS)
    assert {"unauthorized", "missing_variable", "upstream_throttled"} <= set(derived)
    assert documented_codes(openapi.document()) == derived


# --- the served document -----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_is_served_without_signing_in(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/json"
    doc = r.json()
    assert doc == openapi.document()
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert doc["security"] == [{"bearerAuth": []}]
    gateway = {
        "/api/v1/models": gateway_views.models,
        "/api/v1/models/{name}": gateway_views.model,
        "/api/v1/chat/completions": gateway_views.chat_completions,
    }
    for path in doc["paths"]:
        view = resolve(path.replace("{ref}", "some-slug").replace("{name}", "some-model")).func
        assert view is gateway.get(path, api.invoke)
    body = doc["paths"][PATH]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "object"


# --- real responses against the document -------------------------------------------------------


@dataclass
class Ctx:
    client: Any
    sandbox: Any
    prompt: Any
    token: str
    alice: Any
    settings: Any


def _limited(ctx: Ctx):
    other = make_prompt(ctx.alice, name="Other", integration=ctx.prompt.integration)
    row, token = ApiToken.issue("limited", all_prompts=False)
    row.prompts.set([other])
    return invoke(ctx.client, ctx.prompt.slug, BODY, token)


def _broken_template(ctx: Ctx):
    # Saving refuses invalid templates, so break the published one behind the console's back.
    PromptVersion.objects.filter(pk=ctx.prompt.published_version_id).update(
        request_template='{"messages": [{{question}'
    )
    return invoke(ctx.client, ctx.prompt.slug, BODY, ctx.token)


def _fault(code, status):
    def call(ctx: Ctx):
        ctx.sandbox.state.add_fault("invoke", "error", match="*", code=code, status=status, times=1)
        return invoke(ctx.client, ctx.prompt.slug, BODY, ctx.token)

    return call


def _throttled(ctx: Ctx):
    ctx.settings.AWS_MAX_ATTEMPTS = 1
    ctx.sandbox.state.add_fault("invoke", "throttle", match="*", times=10)
    return invoke(ctx.client, ctx.prompt.slug, BODY, ctx.token)


def _slow(ctx: Ctx):
    ctx.settings.PROMPTS_INVOKE_TIMEOUT = 0.5
    ctx.sandbox.state.add_fault("invoke", "hang", match="*", seconds=3, times=1)
    return invoke(ctx.client, ctx.prompt.slug, BODY, ctx.token)


def _over_limit(**limit_values):
    def call(ctx: Ctx):
        row, token = ApiToken.issue("capped", all_prompts=True)
        limits.do_set_limits(
            row,
            requests_per_minute=limit_values.get("rpm"),
            tokens_per_minute=None,
            monthly_budget_usd=limit_values.get("budget"),
        )
        if "rpm" in limit_values:
            if timezone.now().second > 55:  # both calls in one calendar minute
                time.sleep(61 - timezone.now().second)
            invoke(ctx.client, ctx.prompt.slug, BODY, token)
        return invoke(ctx.client, ctx.prompt.slug, BODY, token)

    return call


CASES: dict[str, tuple[int, str | None, Callable[[Ctx], Any]]] = {
    "success": (200, None, lambda c: invoke(c.client, c.prompt.slug, BODY, c.token)),
    "bad_json": (
        400,
        "validation_error",
        lambda c: invoke(c.client, c.prompt.slug, "{not json", c.token, raw=True),
    ),
    "missing": (
        400,
        "missing_variable",
        lambda c: invoke(c.client, c.prompt.slug, {"max_tokens": 5}, c.token),
    ),
    "unknown": (
        400,
        "unknown_variable",
        lambda c: invoke(c.client, c.prompt.slug, {**BODY, "extra": 1}, c.token),
    ),
    "no_token": (401, "unauthorized", lambda c: invoke(c.client, c.prompt.slug, BODY)),
    "limited_token": (403, "forbidden", _limited),
    "unknown_prompt": (404, "not_found", lambda c: invoke(c.client, "nope", BODY, c.token)),
    "get": (
        405,
        "method_not_allowed",
        lambda c: c.client.get(
            f"/api/v1/prompts/{c.prompt.slug}/invoke", HTTP_AUTHORIZATION=f"Bearer {c.token}"
        ),
    ),
    "unpublished": (
        409,
        "no_published_version",
        lambda c: invoke(
            c.client,
            make_prompt(
                c.alice, name="Draft", integration=c.prompt.integration, published=False
            ).slug,
            BODY,
            c.token,
        ),
    ),
    "too_large": (
        413,
        "payload_too_large",
        lambda c: invoke(
            c.client,
            c.prompt.slug,
            '{"question": "' + "x" * (1024 * 1024) + '"}',
            c.token,
            raw=True,
        ),
    ),
    "broken_template": (503, "invalid_template", _broken_template),
    "not_json": (
        415,
        "unsupported_media_type",
        lambda c: c.client.post(
            f"/api/v1/prompts/{c.prompt.slug}/invoke",
            "question=q",
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=f"Bearer {c.token}",
        ),
    ),
    "rate_limited": (429, limits.RATE_LIMITED, _over_limit(rpm=1)),
    "budget_exceeded": (429, limits.BUDGET_EXCEEDED, _over_limit(budget=Decimal(0))),
    "access_denied": (502, "upstream_access_denied", _fault("AccessDeniedException", 403)),
    "model_error": (502, "upstream_error", _fault("ModelErrorException", 424)),
    "throttled": (503, "upstream_throttled", _throttled),
    "slow": (504, "upstream_timeout", _slow),
}


def test_the_real_calls_cover_every_documented_code_and_status():
    doc = openapi.document()
    exercised = {(status, code) for status, code, _ in CASES.values()}
    documented = {
        (status, code) for code, statuses in documented_codes(doc).items() for status in statuses
    }
    assert {c for c in exercised if c[1] is not None} == documented
    assert {s for s, _ in exercised} == {int(s) for s in doc["paths"][PATH]["post"]["responses"]}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
def test_real_responses_match_the_document(case, client, sandbox, alice, bob, settings):
    status, code, call = CASES[case]
    prompt = make_prompt(alice)
    token = ApiToken.issue("Co-pilot backend", bob, all_prompts=True)[1]
    r = call(Ctx(client, sandbox, prompt, token, alice, settings))
    assert r.status_code == status, r.content

    documented = openapi.document()["paths"][PATH]["post"]["responses"][str(status)]
    media = documented["content"]
    assert r["Content-Type"] in media
    body = r.json()
    assert errors(body, media[r["Content-Type"]]["schema"]) == []
    if code is not None:
        assert body["error"]["code"] == code
    else:
        assert QUESTION in body["text"]
    for header, spec in documented.get("headers", {}).items():
        if spec.get("required") is False and not r.has_header(header):
            continue  # sent only to tokens with limits
        assert r.has_header(header), header
        assert errors(r[header], spec["schema"]) == []
