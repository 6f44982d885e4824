"""`call`: the one path from a configuration and a request to a model's answer.

Connection tests, prompt tests (saved and draft), the Invoke API and the health canary all call
a model through `call`: it assumes the role (cached), calls InvokeModel (assuming again, once,
when a cached session turns out to have expired), reads the answer (text, token counts, stop
reason), maps errors to codes and hints, times every step, says whether the credentials were
assumed for this call or reused, and tells the observers (`bedrock.observe`) once. It never
raises for a failed call: the `Result` says what failed, where and what to do.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.conf import settings

from bedrock import arns, client, families, hints, observe, rules
from bedrock.values import InvalidValue

log = logging.getLogger(__name__)

# The step a call failed at.
STS = "sts"
INVOKE = "invoke"
EXTRACT = "extract"

ENDPOINT_NOT_ALLOWED = "EndpointNotAllowed"
INVALID_RESPONSE = "InvalidResponse"
NO_OUTPUT_TEXT = "NoOutputText"
INVALID_REQUEST = "InvalidRequest"

# Request formats: the family's own JSON (InvokeModel) or one shape for every model (Converse).
INVOKE_MODEL = "invoke_model"
CONVERSE = "converse"
FORMATS = (INVOKE_MODEL, CONVERSE)


class Header(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str: ...


class Configuration(Protocol):
    """What to call: a saved integration's values or unsaved ones (a form's, a test's snapshot)."""

    @property
    def role_arn(self) -> str: ...
    @property
    def external_id(self) -> str: ...
    @property
    def sts_endpoint(self) -> str: ...
    @property
    def model_id(self) -> str: ...
    @property
    def endpoint(self) -> str: ...
    @property
    def headers(self) -> Iterable[Header]: ...


@dataclass(frozen=True, slots=True)
class Request:
    """The request body, and where the answer is (None: where the model's family puts it).

    With the InvokeModel format the body is the family's own JSON; with Converse it is a
    Converse request (messages, system, inferenceConfig...), the same for every model.
    """

    body: bytes
    paths: families.ResponsePaths | None = None
    format: str = INVOKE_MODEL


@dataclass(frozen=True, slots=True)
class Credentials:
    """The temporary credentials a call used: assumed for it, or reused from an earlier call."""

    reused: bool
    assumed_at: datetime | None
    role_arn: str
    session_name: str  # the session they were assumed under (an earlier call's when reused)
    assumed_role_arn: str


@dataclass(frozen=True, slots=True)
class Options:
    session_name: str
    # Bounds the whole model call, the HTTP read included (no thread outlives it); None: the
    # AWS_READ_TIMEOUT setting.
    deadline_s: float | None = None
    # Called once the role is assumed, before the model is called (a test shows the step).
    on_assumed: Callable[[Credentials, int], None] | None = None
    # Given: stream the answer (InvokeModelWithResponseStream) and hand on each piece of text
    # as it arrives. A stream that breaks mid-way still returns the text that arrived.
    on_text: Callable[[str], None] | None = None
    # A fallback chain (bedrock.fallbacks) tells, just before the first piece of text is handed
    # on, which candidate the streamed answer comes from: a stream stays with it from there.
    on_serving: Callable[[str], None] | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Timings:
    """Milliseconds; None for a step that was not reached."""

    sts_ms: int | None = None
    model_ms: int | None = None
    total_ms: int = 0


@dataclass(frozen=True, slots=True)
class Error:
    step: str  # STS, INVOKE or EXTRACT
    code: str
    message: str
    hint: str


@dataclass(frozen=True, slots=True)
class Result:
    text: str | None
    usage: Usage
    stop_reason: str | None
    timings: Timings
    error: Error | None
    request_id: str = ""
    http_status: int | None = None
    credentials: Credentials | None = None
    raw: bytes = b""  # the answer's first RAW_RESPONSE_LIMIT bytes
    raw_bytes: int | None = None
    raw_truncated: bool = False
    first_token_ms: int | None = None  # streamed: from the model call's start to the first text

    @property
    def ok(self) -> bool:
        return self.error is None


def call(
    config: Configuration, request: Request, options: Options, context: observe.CallContext
) -> Result:
    """Call the configured model with the request; tell the observers what happened, once."""
    started = time.monotonic()
    try:
        result = _call(config, request, options, started)
    except BaseException:
        observe.notify(context, observe.CallOutcome(ok=False, error_code="InternalError"))
        raise
    observe.notify(context, _outcome(result, request, context))
    return result


def _outcome(result: Result, request: Request, context: observe.CallContext) -> observe.CallOutcome:
    keep = context.keep_bodies
    return observe.CallOutcome(
        ok=result.ok,
        error_code=result.error.code if result.error else "",
        http_status=result.http_status,
        total_ms=result.timings.total_ms,
        sts_ms=result.timings.sts_ms,
        model_ms=result.timings.model_ms,
        first_token_ms=result.first_token_ms,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
        request_id=result.request_id,
        credentials_reused=result.credentials.reused if result.credentials else None,
        request_body=request.body.decode("utf-8", errors="replace") if keep else None,
        response_body=result.raw.decode("utf-8", errors="replace") if keep else None,
    )


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _hint_context(config: Configuration) -> hints.Context:
    return hints.Context(
        principal_arn=client.platform_identity().arn,
        external_id=config.external_id,
        sts_endpoint=config.sts_endpoint,
        endpoint=config.endpoint,
        profile=_is_profile(config.model_id),
    )


def _is_profile(model_id: str) -> bool:
    try:
        return arns.parse_model_id(model_id).is_profile
    except InvalidValue:
        return False


def _credentials(config: Configuration, assumed: client.Assumed) -> Credentials:
    c = assumed.credentials
    return Credentials(
        reused=assumed.cached,
        assumed_at=c.assumed_at,
        role_arn=config.role_arn,
        session_name=c.session_name,
        assumed_role_arn=c.assumed_role_arn,
    )


def _failed(
    started: float,
    step: str,
    code: str,
    message: str,
    hint: str,
    *,
    sts_ms: int | None = None,
    model_ms: int | None = None,
    http_status: int | None = None,
    request_id: str = "",
    credentials: Credentials | None = None,
) -> Result:
    return Result(
        text=None,
        usage=Usage(),
        stop_reason=None,
        timings=Timings(sts_ms, model_ms, _ms_since(started)),
        error=Error(step, code[:100], message[:2000], hint),
        request_id=request_id[:100],
        http_status=http_status,
        credentials=credentials,
    )


def held_credentials(config: Configuration) -> Credentials | None:
    """The credentials a call of config would reuse if made now (no AssumeRole), if any: a
    caller may show that step as done before the call starts."""
    held = client.held_credentials(config.role_arn, config.external_id, config.sts_endpoint)
    return _credentials(config, held) if held is not None else None


def _assume(config: Configuration, session_name: str) -> client.Assumed:
    return client.assume_role(
        config.role_arn, config.external_id, config.sts_endpoint, session_name
    )


def _call(config: Configuration, request: Request, options: Options, started: float) -> Result:
    converse: dict[str, Any] | None = None
    if request.format == CONVERSE:
        try:
            converse = rules.converse_request(rules.parse_json(request.body, "Request JSON"))
        except InvalidValue as e:
            hint = "Fix the Request JSON: it must be a Converse request (messages, system, ...)."
            return _failed(started, INVOKE, INVALID_REQUEST, str(e), hint)
    try:
        assumed = _assume(config, options.session_name)
    except client.AwsCallFailed as e:
        return _failed(
            started,
            STS,
            e.code,
            e.message,
            hints.for_sts(e.code, e.message, _hint_context(config)),
            sts_ms=e.elapsed_ms,
            http_status=e.http_status,
            request_id=e.request_id,
        )
    except InvalidValue as e:
        return _failed(started, STS, ENDPOINT_NOT_ALLOWED, str(e), hints.ENDPOINT_NOT_ALLOWED)
    sts_ms = assumed.elapsed_ms
    credentials = _credentials(config, assumed)
    if options.on_assumed is not None:
        options.on_assumed(credentials, sts_ms)

    headers = [(h.name, h.value) for h in config.headers]
    model_started = time.monotonic()
    streamed = (
        _Streamed(families.detect_family(config.model_id), options.on_text, model_started)
        if options.on_text is not None
        else None
    )

    def invoke(creds: client.AssumedCredentials) -> client.Invocation | client.StreamInvocation:
        if converse is not None and streamed is not None:
            return client.converse_stream(
                config.endpoint,
                config.model_id,
                converse,
                headers,
                creds,
                streamed.event,
                deadline_s=options.deadline_s,
                read_timeout=options.deadline_s,
            )
        if converse is not None:
            return client.converse(
                config.endpoint,
                config.model_id,
                converse,
                headers,
                creds,
                keep_bytes=settings.RAW_RESPONSE_LIMIT,
                read_timeout=options.deadline_s,
            )
        if streamed is not None:
            return client.invoke_model_stream(
                config.endpoint,
                config.model_id,
                request.body,
                headers,
                creds,
                streamed.chunk,
                deadline_s=options.deadline_s,
                read_timeout=options.deadline_s,
            )
        return client.invoke_model(
            config.endpoint,
            config.model_id,
            request.body,
            headers,
            creds,
            keep_bytes=settings.RAW_RESPONSE_LIMIT,
            deadline_s=options.deadline_s,
            # The caller's deadline also bounds the HTTP call, so no thread outlives it.
            read_timeout=options.deadline_s,
        )

    try:
        try:
            invocation = invoke(assumed.credentials)
        except client.AwsCallFailed as e:
            if e.code not in client.EXPIRED_TOKEN_CODES:
                raise
            # The cached session ended early (revoked or clock skew): assume again, once.
            client.forget_credentials(config.role_arn, config.external_id, config.sts_endpoint)
            assumed = _assume(config, options.session_name)
            sts_ms += assumed.elapsed_ms
            credentials = _credentials(config, assumed)
            invocation = invoke(assumed.credentials)
    except client.AwsCallFailed as e:
        failed = _failed(
            started,
            INVOKE,
            e.code,
            e.message,
            hints.for_invoke(e.code, e.message, _hint_context(config)),
            sts_ms=sts_ms,
            model_ms=e.elapsed_ms if e.elapsed_ms is not None else _ms_since(model_started),
            http_status=e.http_status,
            request_id=e.request_id,
            credentials=credentials,
        )
        # A stream that broke mid-way: what arrived is part of the answer.
        return streamed.into(failed) if streamed is not None else failed
    except InvalidValue as e:
        return _failed(
            started,
            INVOKE,
            ENDPOINT_NOT_ALLOWED,
            str(e),
            hints.ENDPOINT_NOT_ALLOWED,
            sts_ms=sts_ms,
            credentials=credentials,
        )
    if isinstance(invocation, client.StreamInvocation):
        if streamed is None:
            raise RuntimeError("a streamed invocation needs its stream reader")
        return streamed.into(
            _read_stream(config, invocation, streamed, credentials, sts_ms, started)
        )
    if converse is not None:
        return _read_converse(config, invocation, credentials, sts_ms, started)
    return _read(config, request, invocation, credentials, sts_ms, started)


class _Streamed:
    """What a streamed answer has brought so far, read chunk by chunk."""

    def __init__(
        self, family: families.Family | None, on_text: Callable[[str], None], started: float
    ) -> None:
        self.family = family
        self.on_text = on_text
        self.started = started
        self.parts: list[str] = []
        self.first_token_ms: int | None = None
        self.stop_reason: str | None = None
        self.usage = Usage()
        self.raw: list[bytes] = []  # the chunks as JSON lines, up to RAW_RESPONSE_LIMIT bytes
        self.raw_bytes = 0

    def chunk(self, data: bytes) -> None:
        self.raw_bytes += len(data) + 1
        if self.raw_bytes <= settings.RAW_RESPONSE_LIMIT:
            self.raw.append(data)
        self._piece(families.read_stream_chunk(self.family, data))

    def event(self, event: dict[str, Any]) -> None:
        """One ConverseStream event: a text delta, the stop reason or the usage."""
        line = json.dumps(event, default=str).encode()
        self.raw_bytes += len(line) + 1
        if self.raw_bytes <= settings.RAW_RESPONSE_LIMIT:
            self.raw.append(line)
        delta = event.get("contentBlockDelta", {}).get("delta", {})
        usage = event.get("metadata", {}).get("usage")
        self._piece(
            families.StreamPiece(
                delta.get("text") or "",
                stop_reason=event.get("messageStop", {}).get("stopReason"),
                input_tokens=usage.get("inputTokens") if usage else None,
                output_tokens=usage.get("outputTokens") if usage else None,
            )
        )

    def _piece(self, piece: families.StreamPiece) -> None:
        self.stop_reason = piece.stop_reason or self.stop_reason
        if piece.input_tokens is not None or piece.output_tokens is not None:
            self.usage = Usage(piece.input_tokens, piece.output_tokens)
        if piece.text:
            if self.first_token_ms is None:
                self.first_token_ms = _ms_since(self.started)
            self.parts.append(piece.text)
            self.on_text(piece.text)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def into(self, result: Result) -> Result:
        return dataclasses.replace(
            result,
            text=self.text if self.parts else result.text,
            first_token_ms=self.first_token_ms,
            stop_reason=result.stop_reason or self.stop_reason,
            raw=b"\n".join(self.raw),
            raw_bytes=self.raw_bytes,
            raw_truncated=self.raw_bytes > settings.RAW_RESPONSE_LIMIT,
        )


def _read_stream(
    config: Configuration,
    inv: client.StreamInvocation,
    streamed: _Streamed,
    credentials: Credentials,
    sts_ms: int,
    started: float,
) -> Result:
    error = None
    if not streamed.parts:
        message = "The stream ended without any text."
        hint = hints.for_invoke(NO_OUTPUT_TEXT, message, _hint_context(config))
        error = Error(EXTRACT, NO_OUTPUT_TEXT, message, hint)
    return Result(
        text=streamed.text if streamed.parts else None,
        usage=streamed.usage,
        stop_reason=streamed.stop_reason,
        # From the same start as first_token_ms (the client's own clock starts a little later).
        timings=Timings(sts_ms, _ms_since(streamed.started), _ms_since(started)),
        error=error,
        request_id=inv.request_id[:100],
        http_status=inv.http_status,
        credentials=credentials,
    )


def _read(
    config: Configuration,
    request: Request,
    inv: client.Invocation,
    credentials: Credentials,
    sts_ms: int,
    started: float,
) -> Result:
    family = families.detect_family(config.model_id)
    try:
        data = json.loads(inv.body)
    except ValueError:
        data = None
    # Parsed once; an answer that is not a JSON object is read from its bytes to say why.
    shaped = isinstance(data, dict)
    answer = families.extract(
        family, data if shaped else inv.body, inv.headers, paths=request.paths
    )
    error = None
    if answer.text is None:
        code = NO_OUTPUT_TEXT if shaped else INVALID_RESPONSE
        message = answer.text_error or "The response holds no output text."
        hint = (
            hints.RESPONSE_PATH
            if request.paths is not None
            else hints.for_invoke(code, message, _hint_context(config))
        )
        error = Error(EXTRACT, code, message[:2000], hint)
    usage = Usage(answer.input_tokens, answer.output_tokens)
    return _answered(
        inv, answer.text, usage, answer.stop_reason, error, credentials, sts_ms, started
    )


def _answered(
    inv: client.Invocation,
    text: str | None,
    usage: Usage,
    stop_reason: str | None,
    error: Error | None,
    credentials: Credentials,
    sts_ms: int,
    started: float,
) -> Result:
    return Result(
        text=text,
        usage=usage,
        stop_reason=stop_reason,
        timings=Timings(sts_ms, inv.elapsed_ms, _ms_since(started)),
        error=error,
        request_id=inv.request_id[:100],
        http_status=inv.http_status,
        credentials=credentials,
        raw=inv.body[: settings.RAW_RESPONSE_LIMIT],
        raw_bytes=inv.body_bytes,
        raw_truncated=inv.truncated,
    )


def converse_text(answer: Any) -> str | None:
    """A Converse answer's text: its output message's text blocks joined (None: no text)."""
    if not isinstance(answer, dict):
        return None
    message = (answer.get("output") or {}).get("message") or {}
    blocks = message.get("content") if isinstance(message, dict) else None
    texts = [
        b["text"] for b in blocks or [] if isinstance(b, dict) and isinstance(b.get("text"), str)
    ]
    return "".join(texts) if texts else None


def _read_converse(
    config: Configuration,
    inv: client.Invocation,
    credentials: Credentials,
    sts_ms: int,
    started: float,
) -> Result:
    data = json.loads(inv.body)  # botocore parsed it; the client wrote it back as JSON
    text = converse_text(data)
    usage = data.get("usage") or {}
    error = None
    if text is None:
        message = "The Converse answer holds no text (output.message.content has no text block)."
        error = Error(
            EXTRACT,
            NO_OUTPUT_TEXT,
            message,
            hints.for_invoke(NO_OUTPUT_TEXT, message, _hint_context(config)),
        )
    tokens = Usage(usage.get("inputTokens"), usage.get("outputTokens"))
    stop = data.get("stopReason")
    return _answered(inv, text, tokens, stop, error, credentials, sts_ms, started)
