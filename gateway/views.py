"""The OpenAI-compatible API: /api/v1/models and /api/v1/chat/completions.

A client written against OpenAI's libraries uses the console's models by changing its base URL
(http://host/api/v1), API key (a console API token) and model (an integration's API model name).
Tokens, their caching and revocation, their limits and the audit of their use are the Invoke
API's (prompts_library.api); errors are in OpenAI's shape {"error": {message, type, param, code}}.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from bedrock import invoke, observe, rules
from bedrock.values import InvalidValue
from gateway import chat
from gateway.serve import Served, serve, session_name
from integrations.models import BedrockModel
from prompts_library import api, apicache, services
from prompts_library.apicache import CachedToken
from usage import limits

log = logging.getLogger(__name__)

SERVED_BY = "X-Served-By"

# OpenAI's error type for each status the gateway answers with.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
}
# The token's own limits (usage.limits) in OpenAI's terms: (type, code).
LIMIT_ERRORS = {
    limits.RATE_LIMITED: ("requests", "rate_limit_exceeded"),
    limits.BUDGET_EXCEEDED: ("insufficient_quota", "insufficient_quota"),
}


def error(
    message: str,
    status: int,
    *,
    code: str | None = None,
    param: str | None = None,
    type: str | None = None,
    retry_after: int | None = None,
) -> JsonResponse:
    kind = type or ERROR_TYPES.get(status, "api_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _unauthorized() -> JsonResponse:
    return error(
        "Send a valid console API token: Authorization: Bearer <token>.",
        401,
        code="invalid_api_key",
    )


def _not_allowed(method: str) -> JsonResponse:
    response = error(f"Use {method}.", 405, code="method_not_allowed")
    response["Allow"] = method
    return response


def _refused(verdict: limits.Verdict) -> JsonResponse:
    kind, code = LIMIT_ERRORS.get(verdict.code, ("requests", "rate_limit_exceeded"))
    return verdict.headers(error(verdict.message, limits.STATUS, code=code, type=kind))


def _upstream(e: services.InvokeError) -> JsonResponse:
    return error(e.message, e.status, code=e.code, type="api_error", retry_after=e.retry_after)


# --- the models -----------------------------------------------------------------------------


def _model(integration: BedrockModel) -> dict[str, Any]:
    return {
        "id": integration.api_name,
        "object": "model",
        "created": int(integration.created.timestamp()),
        "owned_by": integration.provider.name,
    }


def _allowed(token: CachedToken) -> Any:
    integrations = BedrockModel.objects.select_related("provider").order_by("api_name")
    if not token.all_integrations:
        integrations = integrations.filter(pk__in=token.integration_ids)
    return integrations.only("api_name", "created", "provider__name")


@login_not_required
def models(request: HttpRequest) -> HttpResponse:
    """The integrations the token may call, in OpenAI's list shape."""
    if request.method != "GET":
        return _not_allowed("GET")
    token = api.bearer_token(request, apicache.sync())
    if token is None:
        return _unauthorized()
    return JsonResponse({"object": "list", "data": [_model(i) for i in _allowed(token)]})


@login_not_required
def model(request: HttpRequest, name: str) -> HttpResponse:
    if request.method != "GET":
        return _not_allowed("GET")
    read_under = apicache.sync()
    token = api.bearer_token(request, read_under)
    if token is None:
        return _unauthorized()
    integration = apicache.integration(name, read_under)
    if integration is None:
        return _model_not_found(name)
    if not token.allows_integration(integration.pk):
        return _model_not_allowed(name)
    return JsonResponse(_model(integration))


def _model_not_found(name: str) -> JsonResponse:
    return error(
        f"The model {name!r} does not exist: send an integration's API model name "
        "(GET /api/v1/models lists them).",
        404,
        code="model_not_found",
        param="model",
    )


def _model_not_allowed(name: str) -> JsonResponse:
    return error(
        f"This API token may not use the model {name!r}.",
        403,
        code="model_not_allowed",
        param="model",
    )


# --- chat completions ----------------------------------------------------------------------

# Streamed calls run here while the event loop hands their text on (and stops waiting at the
# gateway's own timeout); a plain call runs on its request's thread, bounded by its deadline.
_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="gateway")


@dataclass(frozen=True)
class Prepared:
    """A checked request with everything read from the database: ready to call the model."""

    checked: chat.ChatRequest
    integration: BedrockModel
    context: observe.CallContext
    verdict: limits.Verdict
    answer: chat.Answer

    def options(self, on_text: Any = None, on_serving: Any = None) -> invoke.Options:
        # The deadline bounds the model call, its HTTP read included: no thread outlives it.
        return invoke.Options(
            session_name=session_name(self.integration),
            deadline_s=settings.PROMPTS_INVOKE_TIMEOUT,
            on_text=on_text,
            on_serving=on_serving,
        )

    def start(self, on_text: Any = None, on_serving: Any = None) -> Any:
        """The call on the pool (streamed): the event loop waits, the outcome is held for the
        request's own thread to record."""
        return _pool.submit(
            _held_serve,
            self.integration,
            self.checked.converse,
            self.options(on_text, on_serving),
            self.context,
        )

    def timed_out(self) -> JsonResponse:
        return _upstream(services.timed_out(self.context))

    def answered(self, response: HttpResponse, served: Served) -> HttpResponse:
        response[SERVED_BY] = served.served_name or self.integration.api_name
        return self.verdict.headers(response)


def _record_late(future: Any) -> None:
    """Record a streamed call whose client left before it ended, once it ends (on the pool)."""
    try:
        _, calls = future.result(timeout=settings.PROMPTS_INVOKE_TIMEOUT + 5)
        observe.deliver(calls)
    except Exception:  # a lost record is logged, never raised into the pool
        log.exception("a streamed call's record was lost")
    finally:
        connection.close()  # the pool's threads keep no database connection


def _held_serve(*args: Any) -> tuple[Served, observe.Held]:
    with observe.held() as calls:
        served = serve(*args)
    return served, calls


def _read_request(request: HttpRequest) -> Any:
    """The JSON body, or the error response to answer instead."""
    body = api.read_body(request)
    if body is None:
        return error("The request body is larger than 1 MB.", 413, code="payload_too_large")
    if not api.is_json(request.META.get("CONTENT_TYPE", "")):
        return error(
            "Send the request as Content-Type: application/json.",
            415,
            code="unsupported_media_type",
        )
    try:
        return rules.parse_json(body, "request body")
    except InvalidValue as e:
        return error(str(e), 400)


def _prepare(request: HttpRequest) -> Prepared | HttpResponse:
    read_under = apicache.sync()  # a change made in any process applies from here on
    token = api.bearer_token(request, read_under)
    if token is None:
        return _unauthorized()
    body = _read_request(request)
    if isinstance(body, HttpResponse):
        return body
    try:
        checked = chat.parse(body)
    except chat.ChatError as e:
        return error(e.message, 400, code=e.code, param=e.param)
    integration = apicache.integration(checked.model, read_under)
    if integration is None:
        return _model_not_found(checked.model)
    if not token.allows_integration(integration.pk):
        return _model_not_allowed(checked.model)
    verdict = limits.admit(token.pk, read_under)
    if verdict.refused:
        return _refused(verdict)
    context = observe.CallContext(observe.CHAT_COMPLETIONS, integration.pk, token_id=token.pk)
    return Prepared(checked, integration, context, verdict, chat.Answer(integration.api_name))


def _finish(prepared: Prepared, served: Served, calls: observe.Held) -> HttpResponse:
    """Record the call (on the request's own thread), then answer."""
    observe.deliver(calls)
    return _respond(prepared, served)


def _respond(prepared: Prepared, served: Served) -> HttpResponse:
    result = served.result
    if result.error is not None:
        return _upstream(services.failed_call(result.error))
    tokens = chat.usage(result.usage.input_tokens, result.usage.output_tokens)
    completion = prepared.answer.completion(result.text or "", result.stop_reason, tokens)
    return prepared.answered(JsonResponse(completion), served)


@csrf_exempt
@login_not_required
def chat_completions(request: HttpRequest) -> HttpResponse:
    """A plain call runs whole on the request's thread (checks, the model call recorded by the
    observers in this thread, the answer; the token's use goes on record before the answer
    leaves, audit.middleware), so a plain call never waits for a free thread of the pool; a
    streamed one is handed to the event loop once its first text has arrived."""
    if request.method != "POST":
        return _not_allowed("POST")
    prepared = _prepare(request)
    if isinstance(prepared, HttpResponse):
        return prepared
    if prepared.checked.stream:
        return _streamed(prepared)
    integration, converse = prepared.integration, prepared.checked.converse
    return _respond(prepared, serve(integration, converse, prepared.options(), prepared.context))


class Pieces:
    """The text a streamed call hands on from its thread: waited for by the request's thread
    until the first piece, then by the event loop that sends the rest. None ends it."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._items: deque[str | None] = deque()
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None

    def put(self, item: str | None) -> None:  # on the call's thread
        with self._ready:
            self._items.append(item)
            self._ready.notify()
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            loop, future = waiter
            loop.call_soon_threadsafe(_wake, future)

    def get(self, timeout: float) -> str | None:
        """The next piece, waiting in this thread (TimeoutError)."""
        with self._ready:
            if not self._ready.wait_for(lambda: self._items, max(0.0, timeout)):
                raise TimeoutError
            return self._items.popleft()

    async def next(self, timeout: float) -> str | None:
        """The next piece, waiting in the event loop (TimeoutError)."""
        loop = asyncio.get_running_loop()
        with self._ready:
            if self._items:
                return self._items.popleft()
            future: asyncio.Future[None] = loop.create_future()
            self._waiter = (loop, future)
        try:
            await asyncio.wait_for(future, max(0.0, timeout))
        finally:
            with self._ready:
                if self._waiter is not None and self._waiter[1] is future:
                    self._waiter = None
        with self._ready:
            return self._items.popleft()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _sse(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


DONE = b"data: [DONE]\n\n"


def _streamed(prepared: Prepared) -> HttpResponse:
    """`stream: true`: chat.completion.chunk events over SSE, each piece as it arrives.

    The answer waits for the model's first text, so that a call refused before any text
    (throttled, access denied, no such model) is a JSON error with its status, as OpenAI's
    API answers; a stream that breaks later ends with an error event in OpenAI's shape.
    """
    pieces = Pieces()
    serving: list[str] = []  # told by the fallback chain before its first piece of text
    future = prepared.start(on_text=pieces.put, on_serving=serving.append)
    future.add_done_callback(lambda _: pieces.put(None))
    deadline = time.monotonic() + settings.PROMPTS_INVOKE_TIMEOUT
    try:
        first = pieces.get(deadline - time.monotonic())
    except TimeoutError:
        future.cancel()
        return prepared.timed_out()
    if first is None:  # ended before any text: failed (the stream reader asks for text)
        served, calls = future.result()
        return _finish(prepared, served, calls)

    answer, include_usage = prepared.answer, prepared.checked.include_usage

    def chunk(**kw: Any) -> bytes:
        return _sse(answer.chunk(include_usage=include_usage, **kw))

    async def events() -> AsyncIterator[bytes]:
        recorded = False
        try:
            yield chunk(delta={"role": "assistant", "content": ""})
            yield chunk(delta={"content": first})
            try:
                while (piece := await pieces.next(deadline - time.monotonic())) is not None:
                    yield chunk(delta={"content": piece})
            except TimeoutError:
                future.cancel()
                recorded = True  # as a timeout: the late call is not reported
                timed_out = await sync_to_async(prepared.timed_out)()
                yield b"data: " + timed_out.content + b"\n\n"
                return
            served, calls = future.result()
            recorded = True
            await sync_to_async(observe.deliver)(calls)
            result = served.result
            if result.error is not None:
                failed = _upstream(services.failed_call(result.error))
                yield b"data: " + failed.content + b"\n\n"
                return
            yield chunk(finish=chat.finish_reason(result.stop_reason))
            if include_usage:
                tokens = chat.usage(result.usage.input_tokens, result.usage.output_tokens)
                yield chunk(tokens=tokens)
            yield DONE
        finally:
            if not recorded:  # the client went away mid-stream: the call is recorded anyway
                _pool.submit(_record_late, future)

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    # The headers leave after the first text, and a stream stays with the member that sent it.
    response[SERVED_BY] = serving[0] if serving else prepared.integration.api_name
    return prepared.verdict.headers(response)
