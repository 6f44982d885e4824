"""The Invoke API for the platform's features: token auth, JSON in, JSON out, stable error codes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from audit.models import AuditEvent
from audit.recorder import record_pending
from prompts_library import apicache, rendering, services
from prompts_library.models import ApiToken, hash_token

# last_used_at is written at most this often per token, not on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_BODY_BYTES = 1024 * 1024


def error(code: str, message: str, status: int, retry_after: int | None = None) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="prompts"'
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _token(request: HttpRequest, read_under: str | None) -> apicache.CachedToken | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    token = apicache.token(hash_token(value.strip()), read_under)
    if token is None:
        return None
    # Metadata only: which token, where and how; never the body or the token itself. Written
    # without the chain's lock (durable at once) and chained in batches: see audit.recorder.
    record_pending(
        AuditEvent.Action.TOKEN_USED,
        object_type="prompts_library.apitoken",
        object_id=token.pk,
        object_repr=f"API token #{token.pk}",
        # PostgreSQL text cannot hold NUL: a path that carries one is recorded with it escaped.
        changes={"method": request.method, "path": request.path[:300].replace("\x00", "\\x00")},
    )
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        token.last_used_at = now
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


@csrf_exempt
@login_not_required
def invoke(request: HttpRequest, ref: str) -> JsonResponse:
    if request.method != "POST":
        response = error("method_not_allowed", "Use POST.", 405)
        response["Allow"] = "POST"
        return response
    read_under = apicache.sync()  # a change made in any process applies from here on
    token = _token(request, read_under)
    if token is None:
        return error("unauthorized", "Send a valid API token: Authorization: Bearer <token>.", 401)
    prompt = apicache.prompt(ref, read_under)
    if prompt is None:
        return error("not_found", f"No prompt {ref!r}.", 404)
    if not token.allows(prompt):
        return error("forbidden", "This API token may not invoke this prompt.", 403)
    version = prompt.published_version
    if version is None:
        return error("no_published_version", "This prompt has no published version yet.", 409)

    # Refused before it is read when it says its size; a body over Django's upload limit is
    # refused by Django as it is read (config.errors answers 413 under /api/ too).
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if (
        not declared.isdigit()
        or int(declared) > MAX_BODY_BYTES
        or len(request.body) > MAX_BODY_BYTES
    ):
        return error("payload_too_large", "The request body is larger than 1 MB.", 413)
    try:
        values = json.loads(request.body or b"{}", parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return error("validation_error", "The request body is not valid JSON.", 400)
    if not isinstance(values, dict):
        return error(
            "validation_error", "The request body must be a JSON object of variables.", 400
        )

    try:
        result = services.invoke(prompt, version, values)
    except rendering.RenderError as e:
        if e.code == "invalid_template":
            # Saving checks templates, so this is the console's fault, not the caller's.
            return error("invalid_template", e.message, 500)
        code = e.code if e.code in ("missing_variable", "unknown_variable") else "validation_error"
        return error(code, e.message, 400)
    except services.InvokeError as e:
        return error(e.code, e.message, e.status, e.retry_after)
    return JsonResponse(
        {
            "text": result.text,
            "usage": {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens},
            "latency_ms": result.latency_ms,
            "prompt_version": result.version,
            "request_id": result.request_id,
        }
    )
