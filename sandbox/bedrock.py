"""Amazon Bedrock Runtime over rest-json, signed with assumed-role credentials only.

Four operations: InvokeModel, Converse, and their streaming forms InvokeModelWithResponseStream
and ConverseStream (AWS event-stream bodies). Each goes through the same checks, in AWS's order:
signature and session token, the role's permission for the operation's IAM action and the model,
the model identifier, on-demand throughput, then the request body.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from . import chunks, converse
from .auth import EXPIRED_TOKEN_MESSAGE, AuthErrors, Caller, authenticate
from .faults import FaultProfile, apply_fault
from .generation import generate
from .models import (
    GEO_PREFIXES,
    ModelRef,
    check_on_demand,
    check_region,
    complete,
    detect_family,
    family_from_model,
    malformed,
    parse_model_id,
    read_prompt,
    resource_checks,
)
from .replies import (
    ApiError,
    Drip,
    EventStreamReply,
    Outcome,
    Reply,
    SandboxRequest,
    StreamReply,
    json_reply,
)
from .sigv4 import AuthorizationHeader
from .state import OPERATION_ACTIONS, STREAM_FAULT_MODES, Fault, SandboxState
from .streams import StreamPlan, chunk_encoder, paced_reply

AUTH_ERRORS = AuthErrors(
    missing=ApiError("MissingAuthenticationTokenException", 403, "Missing Authentication Token"),
    incomplete_code="IncompleteSignatureException",
    incomplete_status=403,
    mismatch_code="InvalidSignatureException",
    mismatch_status=403,
    invalid_token_code="UnrecognizedClientException",  # noqa: S106 - an error code
    invalid_token_status=403,
    expired=ApiError("ExpiredTokenException", 403, EXPIRED_TOKEN_MESSAGE),
)
FAULTS = FaultProfile(
    throttle=ApiError(
        "ThrottlingException", 429, "Too many requests, please wait before trying again."
    ),
    expired=ApiError("ExpiredTokenException", 403, EXPIRED_TOKEN_MESSAGE),
    error_code="InternalServerException",
    error_status=500,
    error_message="The server encountered an internal error (sandbox fault).",
)
BEARER_REFUSED = ApiError(
    "AccessDeniedException",
    403,
    "Bearer token (Bedrock API key) authentication is refused: the Bedrock sandbox accepts "
    "SigV4 only. Sign the request with the temporary credentials returned by sts:AssumeRole.",
)
# Headers any HTTP client or the AWS SDK sends; whatever else a caller adds counts as "extra".
STANDARD_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "authorization",
        "connection",
        "content-length",
        "content-type",
        "date",
        "expect",
        "host",
        "keep-alive",
        "transfer-encoding",
        "user-agent",
    }
)
# The last segment of the path names the operation.
OPERATIONS = {
    "invoke": "InvokeModel",
    "converse": "Converse",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
    "converse-stream": "ConverseStream",
}
STREAMING_OPERATIONS = frozenset({"InvokeModelWithResponseStream", "ConverseStream"})
# Fault modes a stream shapes itself (pacing, breaking, dripping frames) rather than answer with.
_STREAM_SHAPED_MODES = frozenset({*STREAM_FAULT_MODES, "drip"})


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated call to a model operation."""

    request: SandboxRequest
    model_id: str
    operation: str
    caller: Caller
    auth: AuthorizationHeader
    entry: dict[str, Any]

    @property
    def action(self) -> str:
        return OPERATION_ACTIONS[self.operation]

    @property
    def streaming(self) -> bool:
        return self.operation in STREAMING_OPERATIONS


def handle(request: SandboxRequest, state: SandboxState) -> Outcome:
    route = _route(request)
    if route is None:
        return error_reply(_unknown_operation(request), request.request_id)
    model_id, operation = unquote(route[0]), route[1]
    try:
        caller, auth = _authenticate(request, state)
    except ApiError as error:
        return error_reply(error, request.request_id)
    entry = _request_entry(request, model_id, operation, caller, auth)
    state.record_invoke(entry)
    outcome = _call(Call(request, model_id, operation, caller, auth, entry), state)
    status, code = _outcome_status(outcome)
    state.finish_invoke(entry, status, code)
    return outcome


def error_reply(error: ApiError, request_id: str) -> Reply:
    headers = {"x-amzn-ErrorType": error.code, "x-amzn-RequestId": request_id}
    return json_reply(error.status, {"message": error.message}, headers)


def _route(request: SandboxRequest) -> tuple[str, str] | None:
    """(raw model id, operation) of a model operation's path, else None."""
    # boto3 sends "/" inside the model id as %2F; a hand-written client may not, so the id is
    # everything between "/model/" and the final segment, which names the operation.
    segments = request.raw_path.split("/")
    operation = OPERATIONS.get(segments[-1])
    if request.method != "POST" or len(segments) < 4 or operation is None:
        return None
    model_segment = "/".join(segments[2:-1])
    return (model_segment, operation) if model_segment else None


def _unknown_operation(request: SandboxRequest) -> ApiError:
    paths = ", ".join(
        f"{name} (POST /model/{{modelId}}/{path})" for path, name in OPERATIONS.items()
    )
    return ApiError(
        "UnknownOperationException",
        404,
        f"{request.method} {request.raw_path} is not an operation of the Bedrock sandbox; it "
        f"implements {paths}.",
    )


def _authenticate(
    request: SandboxRequest, state: SandboxState
) -> tuple[Caller, AuthorizationHeader]:
    if (request.header("authorization") or "").lower().startswith("bearer "):
        raise BEARER_REFUSED
    return authenticate(request, state, "bedrock", AUTH_ERRORS)


def _call(call: Call, state: SandboxState) -> Outcome:
    try:
        if call.caller.credentials is None:
            raise _access_denied(call, because_of_action=True)
        fault = state.take_fault(
            "invoke",
            call.model_id,
            call.caller.access_key_id,
            call.operation,
            streaming=call.streaming,
        )
        state.wait(state.invoke_delay_ms / 1000)

        def normal() -> Reply | EventStreamReply:
            try:
                return _answer(call, state, fault)
            except ApiError as error:
                return error_reply(error, call.request.request_id)

        if fault is None or (call.streaming and fault.mode in _STREAM_SHAPED_MODES):
            return normal()
        return apply_fault(fault, state, FAULTS, normal)
    except ApiError as error:
        return error_reply(error, call.request.request_id)


def _answer(call: Call, state: SandboxState, fault: Fault | None) -> Reply | EventStreamReply:
    creds = call.caller.credentials
    role = state.get_role(creds.role_arn) if creds is not None else None
    if role is None or (role.policy is None and not role.allows_action(call.action)):
        raise _access_denied(call, because_of_action=True)
    checks = resource_checks(call.model_id, call.auth.region, call.caller.account)
    denied = role.denied_resource(call.action, call.model_id, checks)
    if denied is not None:
        raise _access_denied(call, resource=denied, because_of_action=role.policy is not None)
    ref = parse_model_id(call.model_id)
    check_region(ref, call.auth.region)
    check_on_demand(ref)
    body = _json_object(call.request.body)
    if call.operation == "InvokeModel":
        return _invoke_model(call, body, ref)
    if call.operation == "Converse":
        return _converse(call, body, ref)
    if call.operation == "ConverseStream":
        conversation = converse.parse(body, family_from_model(ref.base_id))
        generation, block = converse.answer(conversation)
        plan = StreamPlan(converse.stream_events(generation, block), converse.encode_stream_event)
    else:
        family = detect_family(body, ref.base_id)
        generation = generate(read_prompt(family, body))
        plan = StreamPlan(
            chunks.invoke_stream_events(family, generation, ref),
            chunk_encoder(generation.input_tokens, generation.output_tokens),
            {"X-Amzn-Bedrock-Content-Type": "application/json"},
        )
    return paced_reply(call.request, state, plan, fault, call.entry)


def _invoke_model(call: Call, body: dict[str, Any], ref: ModelRef) -> Reply:
    completion = complete(detect_family(body, ref.base_id), body, ref)
    headers = {
        "x-amzn-RequestId": call.request.request_id,
        "X-Amzn-Bedrock-Input-Token-Count": str(completion.input_tokens),
        "X-Amzn-Bedrock-Output-Token-Count": str(completion.output_tokens),
        "X-Amzn-Bedrock-Invocation-Latency": str(_latency_ms(call.request)),
    }
    return json_reply(200, completion.body, headers)


def _converse(call: Call, body: dict[str, Any], ref: ModelRef) -> Reply:
    conversation = converse.parse(body, family_from_model(ref.base_id))
    generation, block = converse.answer(conversation)
    data = converse.reply(generation, block, _latency_ms(call.request))
    return json_reply(200, data, {"x-amzn-RequestId": call.request.request_id})


def _latency_ms(request: SandboxRequest) -> int:
    return int((time.perf_counter() - request.started) * 1000)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise malformed("#: the body is not valid JSON") from None
    if not isinstance(body, dict):
        found = {list: "JSONArray", str: "String", bool: "Boolean"}.get(type(body), "Number")
        found = "null" if body is None else found
        raise malformed(f"#: expected type: JSONObject, found: {found}")
    return body


def _access_denied(
    call: Call, *, resource: str | None = None, because_of_action: bool = False
) -> ApiError:
    action = call.action
    reason = f" because no identity-based policy allows the {action} action"
    resource = resource or _resource_arn(call.model_id, call.auth.region, call.caller.account)
    return ApiError(
        "AccessDeniedException",
        403,
        f"User: {call.caller.arn} is not authorized to perform: {action} on resource: "
        f"{resource}{reason if because_of_action else ''}",
    )


def _resource_arn(model_id: str, region: str, account: str) -> str:
    if model_id.startswith("arn:"):
        return model_id
    if model_id.startswith(GEO_PREFIXES):
        return f"arn:aws:bedrock:{region}:{account}:inference-profile/{model_id}"
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


RECORDED_BODY_BYTES = 8192


def _request_entry(
    request: SandboxRequest,
    model_id: str,
    operation: str,
    caller: Caller,
    auth: AuthorizationHeader,
) -> dict[str, Any]:
    creds = caller.credentials
    extra = sorted(
        name
        for name in request.headers
        if name not in STANDARD_HEADERS and not name.startswith(("x-amz-", "x-amzn-"))
    )
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "request_id": request.request_id,
        "operation": operation,
        "model_id": model_id,
        "role_arn": creds.role_arn if creds else None,
        "session_name": creds.session_name if creds else None,
        "caller_arn": caller.arn,
        "signed_headers": list(auth.signed_headers),
        "extra_headers": extra,
        # What the caller sent, so that a test can check exactly which values were run.
        "body": request.body[:RECORDED_BODY_BYTES].decode("utf-8", "replace"),
        "status": None,
        "error_code": None,
    }


def _outcome_status(outcome: Outcome) -> tuple[int | None, str | None]:
    if isinstance(outcome, Reply):
        return outcome.status, outcome.headers.get("x-amzn-ErrorType")
    if isinstance(outcome, StreamReply | EventStreamReply):
        return outcome.status, None
    if isinstance(outcome, Drip):
        return outcome.reply.status, outcome.reply.headers.get("x-amzn-ErrorType")
    return None, None  # Hang or Close: nothing was answered
