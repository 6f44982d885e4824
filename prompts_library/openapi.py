"""The OpenAPI 3.1 description of the Invoke API (api.py), served at /api/v1/openapi.json.

tests/prompts/test_openapi.py keeps it true: real responses are validated against these
schemas, and the error codes here must be exactly the codes that api.py can return.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from gateway import openapi as gateway_openapi
from prompts_library import rendering
from prompts_library.models import ApiToken, Prompt, PromptVersion, hash_token

# Every error code api.py can return, by HTTP status.
ERRORS: dict[int, dict[str, str]] = {
    400: {
        "validation_error": "The body is not a JSON object of variables, "
        "or a value cannot be rendered.",
        "missing_variable": "A variable of the template has no value.",
        "unknown_variable": "A value was sent for a variable that the template does not have.",
    },
    401: {"unauthorized": "No API token, or an unknown or revoked one."},
    403: {"forbidden": "The token is limited to other prompts or features."},
    404: {"not_found": "No prompt with this id or slug."},
    405: {"method_not_allowed": "Only POST is allowed."},
    409: {"no_published_version": "The prompt has no published version yet."},
    413: {"payload_too_large": "The request body is larger than 1 MB."},
    415: {"unsupported_media_type": "A body was sent without Content-Type: application/json."},
    429: {
        "rate_limited": "The token's requests or tokens per minute are used up; retry after"
        " Retry-After seconds (the next minute).",
        "budget_exceeded": "The token spent its monthly budget; Retry-After says when the"
        " next month starts.",
    },
    502: {
        "upstream_access_denied": "AWS refused the role or the model call.",
        "upstream_error": "The model failed, or the Response path extracted no text.",
    },
    503: {
        "upstream_throttled": "Bedrock throttled the call; retry after Retry-After seconds.",
        "invalid_template": "The published Request JSON is not valid (edited outside the"
        " console): the prompt cannot be served until it is saved again.",
    },
    504: {"upstream_timeout": "The model did not answer within the configured timeout."},
}

STATUS_TEXT = {
    400: "Bad variables",
    401: "Missing or invalid API token",
    403: "Token not allowed for this prompt",
    404: "Unknown prompt",
    405: "Method not allowed",
    409: "No published version",
    413: "Body too large",
    415: "Not JSON",
    429: "Over the token's limits",
    502: "Upstream error",
    503: "Upstream throttled, or the prompt cannot be served",
    504: "Upstream timeout",
}


# The integrations a call tried, in order (fallbacks: see ATTEMPTS_SCHEMA).
ATTEMPTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": (
        "Every integration the call went to, in order: the prompt's model, then its fallbacks"
        " (the prompt's own chain, else its model's) while the one before was throttled, timed"
        " out or failed with a server error; never after an invalid request or denied access."
        " An integration that failed several times in a row is skipped for a cooldown, without"
        " a call (`skipped`, error_code `CoolingDown`)."
    ),
    "items": {
        "type": "object",
        "required": [
            "integration",
            "ok",
            "skipped",
            "error_code",
            "message",
            "http_status",
            "latency_ms",
        ],
        "additionalProperties": False,
        "properties": {
            "integration": {"type": "string", "description": "As in X-Served-By."},
            "ok": {"type": "boolean", "description": "This one answered."},
            "skipped": {"type": "boolean", "description": "Cooling down: not called."},
            "error_code": {"type": ["string", "null"], "description": "AWS's error code."},
            "message": {"type": ["string", "null"]},
            "http_status": {"type": ["integer", "null"]},
            "latency_ms": {"type": ["integer", "null"], "description": "This attempt's time."},
        },
    },
}
# Statuses whose errors come from the model calls: they list the attempts.
UPSTREAM_STATUSES = (502, 503, 504)


def _error_schema(codes: list[str], attempts: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "enum": codes},
                    "message": {"type": "string", "description": "Human-readable explanation."},
                },
            }
        },
    }
    if attempts:
        schema["properties"]["attempts"] = ATTEMPTS_SCHEMA
    return schema


def _error_response(status: int) -> dict[str, Any]:
    codes = ERRORS[status]
    lines = "\n".join(f"- `{code}`: {text}" for code, text in codes.items())
    response: dict[str, Any] = {
        "description": f"{STATUS_TEXT[status]}.\n\n{lines}",
        "content": {
            "application/json": {
                "schema": _error_schema(list(codes), attempts=status in UPSTREAM_STATUSES)
            }
        },
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer challenge."}
        }
    if status == 405:
        response["headers"] = {"Allow": {"schema": {"type": "string", "const": "POST"}}}
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."}
        }
    if status == 429:
        response["headers"].update(RATE_LIMIT_HEADERS)
    return response


# Sent with every answer to a token that has a limit per minute (requests, else tokens).
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {
        "required": False,
        "schema": {"type": "string"},
        "description": "The token's requests per minute (or tokens per minute).",
    },
    "X-RateLimit-Remaining": {
        "required": False,
        "schema": {"type": "string"},
        "description": "What is left of it in this minute.",
    },
}


SUCCESS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "text",
        "usage",
        "latency_ms",
        "prompt_version",
        "request_id",
        "served_by",
        "attempts",
    ],
    "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "description": "What the Response path extracted."},
        "usage": {
            "type": "object",
            "required": ["input_tokens", "output_tokens"],
            "additionalProperties": False,
            "properties": {
                "input_tokens": {"type": ["integer", "null"]},
                "output_tokens": {"type": ["integer", "null"]},
            },
        },
        "latency_ms": {"type": "integer", "description": "AssumeRole plus InvokeModel time."},
        "prompt_version": {"type": "integer", "description": "The published version's number."},
        "request_id": {"type": "string", "description": "The model call's AWS request id."},
        "served_by": {
            "type": "string",
            "description": "The integration that answered (as X-Served-By): the prompt's model,"
            " or a fallback when that one was throttled or down.",
        },
        "attempts": ATTEMPTS_SCHEMA,
    },
}

SERVED_BY_HEADER = {
    "X-Served-By": {
        "required": True,
        "schema": {"type": "string"},
        "description": "The integration that answered (JSON answers; a stream says it in its"
        " done event, its headers being sent before a model answers).",
    }
}

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "One value per {{variable}} of the published Request JSON; every variable is required "
        "and no others are allowed. A variable inside a string takes a string; one standing "
        "alone as a JSON value takes any JSON value. At most 1 MB. A boolean `stream` is not a"
        " variable: true streams the answer as text/event-stream."
    ),
    "additionalProperties": True,
}


STREAM_PROPERTY: dict[str, Any] = {
    "type": "boolean",
    "description": (
        "true: answer text/event-stream, the text as the model generates it (not a variable)."
    ),
}

EVENT_STREAM: dict[str, Any] = {
    "schema": {
        "type": "string",
        "description": (
            'With "stream": true. Server-Sent Events: `event: text` with data {"text": "<piece>"}'
            " as many times as the model sends text (the pieces make the whole text), then"
            " exactly one of `event: done` with data {usage, latency_ms, prompt_version,"
            " request_id, served_by, attempts} (as the JSON answer, without text) or `event:"
            ' error` with data {"error": {"code", "message"}, "attempts": [...]} (the codes of'
            " the JSON errors; text already sent stays sent). A stream moves to a fallback only"
            " before its first text. Each event is sent as soon as it is known: nothing is"
            " buffered."
        ),
    },
    "example": (
        'event: text\ndata: {"text": "Hello"}\n\nevent: text\ndata: {"text": " there"}\n\n'
        'event: done\ndata: {"usage": {"input_tokens": 3, "output_tokens": 2}, "latency_ms":'
        ' 412, "prompt_version": 4, "request_id": "5f0c..."}\n\n'
    ),
}


def _operation(operation_id: str, summary: str, request_body: dict[str, Any]) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "requestBody": request_body,
        "responses": {
            "200": {
                "description": 'The model\'s text (streamed with "stream": true).',
                "headers": {**RATE_LIMIT_HEADERS, **SERVED_BY_HEADER},
                "content": {
                    "application/json": {"schema": SUCCESS_SCHEMA},
                    "text/event-stream": EVENT_STREAM,
                },
            },
            **{str(status): _error_response(status) for status in sorted(ERRORS)},
        },
    }


def variables_schema(version: PromptVersion) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON Schema of a version's variables, and an example made of its samples.

    A variable inside a string takes a string; one standing alone as a JSON value takes the
    JSON type of its sample (a number, a boolean...), or any value when it has no sample.
    """
    parsed = rendering.parse(version.request_template)
    samples = version.samples or {}
    properties: dict[str, Any] = {}
    example: dict[str, Any] = {}
    for name in parsed.variables:
        if name in parsed.typed:
            value = rendering.sample_value(samples[name]) if name in samples else None
            kind = _JSON_TYPES.get(type(value))
            properties[name] = {"type": kind} if kind else {}
        else:
            value = samples.get(name, "")
            properties[name] = {"type": "string"}
        if name in samples:
            example[name] = value
    properties.setdefault("stream", STREAM_PROPERTY)
    schema = {
        "type": "object",
        "required": list(parsed.variables),
        "additionalProperties": False,
        "properties": properties,
    }
    return schema, example


_JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string", list: "array"}
_JSON_TYPES[dict] = "object"


def _prompt_paths(prompts: list[Prompt]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for prompt in prompts:
        version = prompt.published_version
        if version is None:
            continue
        try:
            schema, example = variables_schema(version)
        except rendering.RenderError:
            continue
        media: dict[str, Any] = {"schema": schema}
        if example:
            media["example"] = example
        paths[f"/api/v1/prompts/{prompt.slug}/invoke"] = {
            "post": _operation(
                f"invoke_{prompt.pk}",
                f"Invoke {prompt.name} (version {version.number})",
                {"required": True, "content": {"application/json": media}},
            )
        }
    return paths


def document(prompts: list[Prompt] | None = None) -> dict[str, Any]:
    """The description; with prompts, a typed path for each published one besides the generic."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bedrock Console Invoke API",
            "version": "1",
            "description": (
                "Platform features invoke published prompts with their variables. Fetched with"
                " an API token (Authorization: Bearer), the description also lists each"
                " published prompt that the token may invoke, with its variables typed."
                " /api/v1/models and /api/v1/chat/completions answer OpenAI's API for the"
                " integrations a token is granted (base URL /api/v1, model = API model name)."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token created in the console (its API tokens page).",
                }
            }
        },
        "paths": {
            "/api/v1/prompts/{ref}/invoke": {
                "parameters": [
                    {
                        "name": "ref",
                        "in": "path",
                        "required": True,
                        "description": "The prompt's id or slug.",
                        "schema": {"type": "string"},
                    }
                ],
                "post": _operation(
                    "invokePrompt",
                    "Render the published version with the variables and call the model",
                    {
                        "required": False,
                        "content": {"application/json": {"schema": REQUEST_SCHEMA}},
                    },
                ),
            },
            **_prompt_paths(prompts or []),
            **gateway_openapi.paths(),
        },
    }


def _prompts_for(request: HttpRequest) -> list[Prompt]:
    """The published prompts that the request's API token (if any, and valid) may invoke."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return []
    token = ApiToken.objects.filter(
        token_hash=hash_token(value.strip()), revoked_at__isnull=True
    ).first()
    if token is None:
        return []
    prompts = Prompt.objects.filter(published_version__isnull=False).select_related(
        "published_version"
    )
    if not token.all_prompts:
        # The scope rule of ApiToken.allows, as a query: a limited token whose prompts and
        # features were all deleted is described with no prompts.
        prompt_ids = list(token.prompts.values_list("pk", flat=True))
        feature_ids = list(token.features.values_list("pk", flat=True))
        prompts = prompts.filter(Q(pk__in=prompt_ids) | Q(feature_id__in=feature_ids))
    return list(prompts.order_by("pk")[:MAX_TYPED_PROMPTS])


MAX_TYPED_PROMPTS = 200


@login_not_required
@require_GET
def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(document(_prompts_for(request)), json_dumps_params={"indent": 2})
