"""The OpenAPI 3.1 description of the Invoke API (api.py), served at /api/v1/openapi.json.

tests/prompts/test_openapi.py keeps it true: real responses are validated against these
schemas, and the error codes here must be exactly the codes that api.py can return.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

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
    500: {"invalid_template": "The published Request JSON is not valid (a console fault)."},
    502: {
        "upstream_access_denied": "AWS refused the role or the model call.",
        "upstream_error": "The model failed, or the Response path extracted no text.",
    },
    503: {"upstream_throttled": "Bedrock throttled the call; retry after Retry-After seconds."},
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
    500: "Invalid published template",
    502: "Upstream error",
    503: "Upstream throttled",
    504: "Upstream timeout",
}


def error_codes() -> set[str]:
    return {code for codes in ERRORS.values() for code in codes}


def _error_schema(codes: list[str]) -> dict[str, Any]:
    return {
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


def _error_response(status: int) -> dict[str, Any]:
    codes = ERRORS[status]
    lines = "\n".join(f"- `{code}`: {text}" for code, text in codes.items())
    response: dict[str, Any] = {
        "description": f"{STATUS_TEXT[status]}.\n\n{lines}",
        "content": {"application/json": {"schema": _error_schema(list(codes))}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer challenge."}
        }
    if status == 405:
        response["headers"] = {"Allow": {"schema": {"type": "string", "const": "POST"}}}
    if status == 503:
        response["headers"] = {
            "Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."}
        }
    return response


SUCCESS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["text", "usage", "latency_ms", "prompt_version", "request_id"],
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
    },
}

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "One value per {{variable}} of the published Request JSON; every variable is required "
        "and no others are allowed. A variable inside a string takes a string; one standing "
        "alone as a JSON value takes any JSON value. At most 1 MB."
    ),
    "additionalProperties": True,
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bedrock Console Invoke API",
            "version": "1",
            "description": "Platform features invoke published prompts with their variables.",
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
                "post": {
                    "operationId": "invokePrompt",
                    "summary": "Render the published version with the variables and call the model",
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": REQUEST_SCHEMA}},
                    },
                    "responses": {
                        "200": {
                            "description": "The model's text.",
                            "content": {"application/json": {"schema": SUCCESS_SCHEMA}},
                        },
                        **{str(status): _error_response(status) for status in sorted(ERRORS)},
                    },
                },
            }
        },
    }


@login_not_required
@require_GET
def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(document(), json_dumps_params={"indent": 2})
