"""The Invoke API for the platform's features: token auth, JSON in, JSON out, stable error codes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from audit.models import AuditEvent
from audit.recorder import record_pending
from bedrock import rules
from bedrock.values import InvalidValue
from config import live, params
from prompts_library import apicache, rendering, services
from prompts_library.models import ApiToken, hash_token
from usage import limits

# last_used_at is written at most this often per token, not on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_BODY_BYTES = rules.MAX_REQUEST_BYTES
# The integration that answered (a fallback when the prompt's own was throttled or down).
SERVED_BY = "X-Served-By"


def error(
    code: str,
    message: str,
    status: int,
    retry_after: int | None = None,
    attempts: list[dict[str, Any]] | None = None,
) -> JsonResponse:
    response = JsonResponse(_error_body(code, message, attempts), status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="prompts"'
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def bearer_token(request: HttpRequest, read_under: str | None) -> apicache.CachedToken | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    token = apicache.token(hash_token(value.strip()), read_under)
    if token is None:
        return None
    # Metadata only: which token, where and how; never the body or the token itself. Written
    # without the chain's lock and chained in batches: see audit.recorder.
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


def is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def read_body(request: HttpRequest) -> bytes | None:
    """The body, or None when it is over MAX_BODY_BYTES (refused before reading when it says so).

    A chunked body (no Content-Length) is read whole: under WSGI from the server's stream, since
    Django reads only what Content-Length announces. A body over Django's upload limit is refused
    by Django as it is read (config.errors answers 413 under /api/ too).
    """
    declared = (request.META.get("CONTENT_LENGTH") or "").strip()
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not declared:
        # WSGI: Django's stream stops at Content-Length, so read the server's; ASGI: Django's
        # stream is the whole body the server received.
        stream = request.META.get("wsgi.input") or request
        data = stream.read(MAX_BODY_BYTES + 1)
        return None if len(data) > MAX_BODY_BYTES else data
    if declared and params.parse_int(declared, maximum=MAX_BODY_BYTES) is None:
        return None
    return request.body if len(request.body) <= MAX_BODY_BYTES else None


def _streamed(call: services.PreparedCall) -> StreamingHttpResponse:
    """`"stream": true`: text/event-stream, each piece of text as it arrives (never buffered).

    Events: `text` ({"text": piece}) as many as the model sends, then `done` (the same fields as
    the plain answer but the text) or `error` ({"error": {"code", "message"}}). The model call
    runs on the pool; the stream waits in the event loop; the outcome is recorded on the
    request's own thread.
    """

    async def events() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()

        def hand_on(piece: str | None) -> None:  # on the call's thread
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        future = call.start(on_text=hand_on)
        future.add_done_callback(lambda _: hand_on(None))
        deadline = loop.time() + settings.PROMPTS_INVOKE_TIMEOUT
        try:
            while (
                piece := await asyncio.wait_for(pieces.get(), deadline - loop.time())
            ) is not None:
                yield live.sse("text", json.dumps({"text": piece}))
            served, calls = future.result()
            answer = await sync_to_async(call.finish)(served, calls)
        except TimeoutError:
            future.cancel()
            failed = await sync_to_async(call.timed_out)()
            yield live.sse("error", _error_data(failed))
            return
        except services.InvokeError as e:
            yield live.sse("error", _error_data(e))
            return
        done = _answer(answer)
        del done["text"]
        yield live.sse("done", json.dumps(done))

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _error_data(e: services.InvokeError) -> str:
    return json.dumps(_error_body(e.code, e.message, e.attempts))


def _error_body(
    code: str, message: str, attempts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The JSON error; for a failed model call, also the integrations it tried (fallbacks)."""
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if attempts is not None:
        body["attempts"] = attempts
    return body


def _answer(result: services.InvokeResult) -> dict[str, Any]:
    return {
        "text": result.text,
        "usage": {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens},
        "latency_ms": result.latency_ms,
        "prompt_version": result.version,
        "request_id": result.request_id,
        "served_by": result.served_by,
        "attempts": list(result.attempts),
    }


def _served(response: HttpResponse, result: services.InvokeResult) -> HttpResponse:
    response[SERVED_BY] = result.served_by
    return response


@csrf_exempt
@login_not_required
def invoke(request: HttpRequest, ref: str) -> HttpResponse:
    if request.method != "POST":
        response = error("method_not_allowed", "Use POST.", 405)
        response["Allow"] = "POST"
        return response
    read_under = apicache.sync()  # a change made in any process applies from here on
    token = bearer_token(request, read_under)
    if token is None:
        return error("unauthorized", "Send a valid API token: Authorization: Bearer <token>.", 401)
    prompt = apicache.prompt(ref, read_under)
    if prompt is None:
        return error("not_found", f"No prompt {ref!r}.", 404)
    if not token.allows(prompt):
        return error("forbidden", "This API token may not invoke this prompt.", 403)
    verdict = limits.admit(token.pk, read_under)
    if verdict.refused:
        return verdict.response()
    version = prompt.published_version
    if version is None:
        return error("no_published_version", "This prompt has no published version yet.", 409)

    body = read_body(request)
    if body is None:
        return error("payload_too_large", "The request body is larger than 1 MB.", 413)
    if body and not is_json(request.META.get("CONTENT_TYPE", "")):
        return error(
            "unsupported_media_type", "Send the variables as Content-Type: application/json.", 415
        )
    try:
        values = rules.parse_json(body or b"{}", "request body")
    except rules.TooDeep:
        message = f"A value is nested more than {rules.MAX_DEPTH} levels deep."
        return error("validation_error", message, 400)
    except InvalidValue:
        return error("validation_error", "The request body is not valid JSON.", 400)
    if not isinstance(values, dict):
        return error(
            "validation_error", "The request body must be a JSON object of variables.", 400
        )

    stream = values.pop("stream", False) if isinstance(values.get("stream"), bool) else False
    try:
        if stream:  # bad values are a JSON 400 before any stream starts
            call = services.prepare_invoke(prompt, version, values, token_id=token.pk)
            return verdict.headers(_streamed(call))
        result = services.invoke_prompt(prompt, version, values, token_id=token.pk)
    except rendering.RenderError as e:
        if e.code == "invalid_template":
            # Saving checks templates, so only a database edited behind the console's back gets
            # here: the prompt cannot be served until it is saved again.
            return error("invalid_template", e.message, 503, retry_after=60)
        code = e.code if e.code in ("missing_variable", "unknown_variable") else "validation_error"
        return error(code, e.message, 400)
    except services.InvokeError as e:
        return error(e.code, e.message, e.status, e.retry_after, attempts=e.attempts)
    return verdict.headers(_served(JsonResponse(_answer(result)), result))
