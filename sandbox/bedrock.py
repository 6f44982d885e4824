"""Amazon Bedrock Runtime InvokeModel over rest-json, signed with assumed-role credentials only."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import unquote

from .auth import EXPIRED_TOKEN_MESSAGE, AuthErrors, Caller, authenticate
from .faults import FaultProfile, apply_fault
from .models import (
    GEO_PREFIXES,
    check_on_demand,
    complete,
    detect_family,
    malformed,
    parse_model_id,
)
from .replies import (
    ApiError,
    Drip,
    Outcome,
    Reply,
    SandboxRequest,
    StreamReply,
    json_reply,
)
from .sigv4 import AuthorizationHeader
from .state import IssuedCredentials, SandboxState

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


def handle(request: SandboxRequest, state: SandboxState) -> Outcome:
    model_segment = _model_segment(request)
    if model_segment is None:
        return error_reply(_unknown_operation(request), request.request_id)
    model_id = unquote(model_segment)
    try:
        caller, auth = _authenticate(request, state)
    except ApiError as error:
        return error_reply(error, request.request_id)
    entry = _request_entry(request, model_id, caller, auth)
    state.record_invoke(entry)
    outcome = _invoke(request, state, model_id, caller, auth)
    status, code = _outcome_status(outcome)
    state.finish_invoke(entry, status, code)
    return outcome


def error_reply(error: ApiError, request_id: str) -> Reply:
    headers = {"x-amzn-ErrorType": error.code, "x-amzn-RequestId": request_id}
    return json_reply(error.status, {"message": error.message}, headers)


def _model_segment(request: SandboxRequest) -> str | None:
    # boto3 sends "/" inside the model id as %2F; a hand-written client may not, so the id is
    # everything between "/model/" and the final "/invoke".
    segments = request.raw_path.split("/")
    if request.method != "POST" or len(segments) < 4 or segments[-1] != "invoke":
        return None
    return "/".join(segments[2:-1]) or None


def _unknown_operation(request: SandboxRequest) -> ApiError:
    return ApiError(
        "UnknownOperationException",
        404,
        f"{request.method} {request.raw_path} is not an operation of the Bedrock sandbox; it "
        "implements InvokeModel (POST /model/{modelId}/invoke) only.",
    )


def _authenticate(
    request: SandboxRequest, state: SandboxState
) -> tuple[Caller, AuthorizationHeader]:
    if (request.header("authorization") or "").lower().startswith("bearer "):
        raise BEARER_REFUSED
    return authenticate(request, state, "bedrock", AUTH_ERRORS)


def _invoke(
    request: SandboxRequest,
    state: SandboxState,
    model_id: str,
    caller: Caller,
    auth: AuthorizationHeader,
) -> Outcome:
    try:
        creds = caller.credentials
        if creds is None:
            raise _access_denied(
                caller,
                model_id,
                auth,
                " because no identity-based policy allows the bedrock:InvokeModel action",
            )
        fault = state.take_fault("invoke", model_id, caller.access_key_id)
        state.wait(state.invoke_delay_ms / 1000)

        def normal() -> Reply:
            try:
                return _answer(request, state, model_id, creds, caller, auth)
            except ApiError as error:
                return error_reply(error, request.request_id)

        return apply_fault(fault, state, FAULTS, normal) if fault else normal()
    except ApiError as error:
        return error_reply(error, request.request_id)


def _answer(
    request: SandboxRequest,
    state: SandboxState,
    model_id: str,
    creds: IssuedCredentials,
    caller: Caller,
    auth: AuthorizationHeader,
) -> Reply:
    role = state.get_role(creds.role_arn)
    if role is None or not role.allows_model(model_id):
        raise _access_denied(caller, model_id, auth)
    ref = parse_model_id(model_id)
    check_on_demand(ref)
    body = _json_object(request.body)
    completion = complete(detect_family(body, ref.base_id), body, ref)
    latency_ms = int((time.perf_counter() - request.started) * 1000)
    headers = {
        "x-amzn-RequestId": request.request_id,
        "X-Amzn-Bedrock-Input-Token-Count": str(completion.input_tokens),
        "X-Amzn-Bedrock-Output-Token-Count": str(completion.output_tokens),
        "X-Amzn-Bedrock-Invocation-Latency": str(latency_ms),
    }
    return json_reply(200, completion.body, headers)


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
    caller: Caller, model_id: str, auth: AuthorizationHeader, reason: str = ""
) -> ApiError:
    return ApiError(
        "AccessDeniedException",
        403,
        f"User: {caller.arn} is not authorized to perform: bedrock:InvokeModel on resource: "
        f"{_resource_arn(model_id, auth.region, caller.account)}{reason}",
    )


def _resource_arn(model_id: str, region: str, account: str) -> str:
    if model_id.startswith("arn:"):
        return model_id
    if model_id.startswith(GEO_PREFIXES):
        return f"arn:aws:bedrock:{region}:{account}:inference-profile/{model_id}"
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def _request_entry(
    request: SandboxRequest, model_id: str, caller: Caller, auth: AuthorizationHeader
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
        "model_id": model_id,
        "role_arn": creds.role_arn if creds else None,
        "session_name": creds.session_name if creds else None,
        "caller_arn": caller.arn,
        "signed_headers": list(auth.signed_headers),
        "extra_headers": extra,
        "status": None,
        "error_code": None,
    }


def _outcome_status(outcome: Outcome) -> tuple[int | None, str | None]:
    if isinstance(outcome, Reply):
        return outcome.status, outcome.headers.get("x-amzn-ErrorType")
    if isinstance(outcome, StreamReply):
        return outcome.status, None
    if isinstance(outcome, Drip):
        return outcome.reply.status, outcome.reply.headers.get("x-amzn-ErrorType")
    return None, None  # Hang or Close: nothing was answered
