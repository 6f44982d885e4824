"""The OpenAPI description of the OpenAI-compatible endpoints, part of /api/v1/openapi.json.

prompts_library.openapi.document() adds these paths beside the Invoke API's; the fuzzing of
the served description (tests/prompts/test_api_fuzz.py) holds the gateway to them too.
"""

from __future__ import annotations

from typing import Any

from gateway import chat

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "additionalProperties": False,
            "properties": {
                "message": {"type": "string", "description": "Human-readable explanation."},
                "type": {"type": "string", "description": "OpenAI's error type."},
                "param": {"type": ["string", "null"], "description": "The parameter at fault."},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

ERRORS: dict[int, str] = {
    400: "Invalid or unsupported parameters (invalid_request_error, with `param`): tools, n > 1,"
    " logprobs, a response_format other than text, images, role tool, unknown fields...",
    401: "No API token, or an unknown or revoked one (code invalid_api_key).",
    403: "The token is not granted this integration (code model_not_allowed).",
    404: "No integration has this API model name (code model_not_found).",
    405: "Method not allowed.",
    413: "The request body is larger than 1 MB.",
    415: "The body is not application/json.",
    429: "The token's requests or tokens per minute (rate_limit_exceeded) or its monthly budget"
    " (insufficient_quota) are used up; Retry-After says when to try again.",
    502: "The model failed or refused the role (upstream_error, upstream_access_denied).",
    503: "Bedrock throttled the call (upstream_throttled); retry after Retry-After seconds.",
    504: "The model did not answer within the configured timeout (upstream_timeout).",
}

HEADERS = {
    "Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."},
    "X-RateLimit-Limit": {"schema": {"type": "string"}},
    "X-RateLimit-Remaining": {"schema": {"type": "string"}},
}


def _errors(*statuses: int) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": ERRORS[status],
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
        if status in (429, 503):
            response["headers"] = HEADERS
        responses[str(status)] = response
    return responses


_TEXT = {"type": "string", "pattern": r"\S"}
_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "additionalProperties": False,
    "properties": {"type": {"const": "text"}, "text": _TEXT},
}
_CONTENT = {"anyOf": [_TEXT, {"type": "array", "minItems": 1, "items": _TEXT_PART}]}


def _message(roles: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["role", "content"],
        "additionalProperties": False,
        "properties": {"role": {"enum": roles}, "content": _CONTENT},
    }


REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["model", "messages"],
    "additionalProperties": False,
    "description": "OpenAI's chat completions request, translated to Bedrock's Converse. "
    "Parameters not listed (tools, functions, logprobs, seed, penalties, audio...) are refused "
    "with a 400 naming them.",
    "properties": {
        "model": {"type": "string", "description": "An integration's API model name."},
        "messages": {
            "type": "array",
            "minItems": 1,
            "description": "System and developer messages become Converse's system blocks; "
            "the conversation starts with a user message.",
            "prefixItems": [_message(["user"])],
            "items": _message(["system", "developer", "user", "assistant"]),
        },
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "stop": {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": chat.MAX_STOP,
                    "items": {"type": "string", "minLength": 1},
                },
            ]
        },
        "stream": {"type": "boolean"},
        "stream_options": {
            "type": "object",
            "description": "Only with stream: true.",
            "additionalProperties": False,
            "properties": {"include_usage": {"type": "boolean"}},
        },
        "user": {"type": "string", "maxLength": chat.MAX_USER_CHARS},
        "n": {"const": 1},
        "logprobs": {"const": False},
        "response_format": {
            "type": "object",
            "required": ["type"],
            "additionalProperties": False,
            "properties": {"type": {"const": "text"}},
        },
    },
}

USAGE_SCHEMA = {
    "type": "object",
    "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
    },
}

COMPLETION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "object", "created", "model", "choices", "usage"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "chat.completion"},
        "created": {"type": "integer"},
        "model": {"type": "string"},
        "choices": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "message", "finish_reason"],
                "properties": {
                    "index": {"type": "integer"},
                    "message": {
                        "type": "object",
                        "required": ["role", "content"],
                        "properties": {
                            "role": {"const": "assistant"},
                            "content": {"type": "string"},
                        },
                    },
                    "finish_reason": {"enum": sorted(set(chat.FINISH_REASONS.values()))},
                },
            },
        },
        "usage": USAGE_SCHEMA,
    },
}

EVENT_STREAM: dict[str, Any] = {
    "schema": {
        "type": "string",
        "description": "With stream: true. Server-Sent Events, each `data: <chat.completion."
        "chunk>`: the first with delta.role, then content deltas as the model generates them,"
        " then one with finish_reason, then (stream_options.include_usage) one with no choices"
        " and the usage, then `data: [DONE]`. A stream that breaks after its first text ends"
        ' with `data: {"error": {...}}` in the shape of the JSON errors.',
    }
}

MODEL_SCHEMA = {
    "type": "object",
    "required": ["id", "object", "created", "owned_by"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "description": "The integration's API model name."},
        "object": {"const": "model"},
        "created": {"type": "integer"},
        "owned_by": {"type": "string", "description": "The integration's provider."},
    },
}


def paths() -> dict[str, Any]:
    served_by = {
        "X-Served-By": {
            "schema": {"type": "string"},
            "description": "The API model name of the integration that answered.",
        },
        **{k: v for k, v in HEADERS.items() if k != "Retry-After"},
    }
    return {
        "/api/v1/models": {
            "get": {
                "operationId": "listModels",
                "summary": "The integrations this token may call (OpenAI's model list)",
                "responses": {
                    "200": {
                        "description": "The models.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["object", "data"],
                                    "properties": {
                                        "object": {"const": "list"},
                                        "data": {"type": "array", "items": MODEL_SCHEMA},
                                    },
                                }
                            }
                        },
                    },
                    **_errors(401, 405),
                },
            }
        },
        "/api/v1/models/{name}": {
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "description": "An integration's API model name.",
                    "schema": {"type": "string"},
                }
            ],
            "get": {
                "operationId": "retrieveModel",
                "summary": "One integration, if this token may call it",
                "responses": {
                    "200": {
                        "description": "The model.",
                        "content": {"application/json": {"schema": MODEL_SCHEMA}},
                    },
                    **_errors(401, 403, 404, 405),
                },
            },
        },
        "/api/v1/chat/completions": {
            "post": {
                "operationId": "createChatCompletion",
                "summary": "OpenAI-compatible chat completions on an integration (Converse)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": REQUEST_SCHEMA}},
                },
                "responses": {
                    "200": {
                        "description": "The completion (streamed with stream: true).",
                        "headers": served_by,
                        "content": {
                            "application/json": {"schema": COMPLETION_SCHEMA},
                            "text/event-stream": EVENT_STREAM,
                        },
                    },
                    **_errors(400, 401, 403, 404, 405, 413, 415, 429, 502, 503, 504),
                },
            }
        },
    }
