"""Amazon STS over the "query" protocol: GetCallerIdentity and AssumeRole."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from .auth import EXPIRED_TOKEN_MESSAGE, AuthErrors, Caller, authenticate
from .faults import FaultProfile, apply_fault
from .replies import ApiError, Outcome, Reply, SandboxRequest
from .state import SandboxState

API_VERSION = "2011-06-15"
XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"
XML = "text/xml"
CHAINED_MAX_SECONDS = 3600

SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]*$")
EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]*$")

AUTH_ERRORS = AuthErrors(
    missing=ApiError("MissingAuthenticationToken", 403, "Request is missing Authentication Token"),
    incomplete_code="IncompleteSignature",
    incomplete_status=400,
    mismatch_code="SignatureDoesNotMatch",
    mismatch_status=403,
    invalid_token_code="InvalidClientTokenId",  # noqa: S106 - an error code
    invalid_token_status=403,
    expired=ApiError("ExpiredToken", 400, EXPIRED_TOKEN_MESSAGE),
)
FAULTS = FaultProfile(
    throttle=ApiError("Throttling", 400, "Rate exceeded"),
    expired=ApiError("ExpiredToken", 400, EXPIRED_TOKEN_MESSAGE),
    error_code="InternalFailure",
    error_status=500,
    error_message="The request processing has failed because of an unknown error (sandbox fault).",
)

Params = Mapping[str, str]


def handle(request: SandboxRequest, state: SandboxState) -> Outcome:
    try:
        params = _parse_params(request)
        caller, _ = authenticate(request, state, "sts", AUTH_ERRORS)
        action = _action(params)
        if action == "AssumeRole":
            state.count_assume_role(params.get("RoleArn", ""))
        else:
            state.count_get_caller_identity()
        state.wait(state.sts_delay_ms / 1000)

        def normal() -> Reply:
            return _rendered(request, lambda: _ACTIONS[action](params, caller, state, request))

        fault = state.take_fault("sts", params.get("RoleArn", ""), caller.access_key_id)
        return apply_fault(fault, state, FAULTS, normal) if fault else normal()
    except ApiError as error:
        return error_reply(error, request.request_id)


def error_reply(error: ApiError, request_id: str) -> Reply:
    kind = "Receiver" if error.status >= 500 else "Sender"
    body = (
        f'<ErrorResponse xmlns="{XMLNS}">'
        f"<Error><Type>{kind}</Type><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return Reply(error.status, body.encode(), XML, {"x-amzn-RequestId": request_id})


def _rendered(request: SandboxRequest, action: Callable[[], str]) -> Reply:
    try:
        body = action()
    except ApiError as error:
        return error_reply(error, request.request_id)
    return Reply(200, body.encode(), XML, {"x-amzn-RequestId": request.request_id})


def _parse_params(request: SandboxRequest) -> dict[str, str]:
    pairs = parse_qsl(request.raw_query, keep_blank_values=True)
    if request.body:
        pairs += parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return dict(pairs)


def _action(params: Params) -> str:
    action = params.get("Action")
    if not action:
        raise ApiError("MissingAction", 400, "Missing Action")
    version = params.get("Version", API_VERSION)
    if action not in _ACTIONS or version != API_VERSION:
        raise ApiError(
            "InvalidAction", 400, f"Could not find operation {action} for version {version}"
        )
    return action


def _get_caller_identity(
    params: Params, caller: Caller, state: SandboxState, request: SandboxRequest
) -> str:
    result = (
        f"<Arn>{escape(caller.arn)}</Arn><UserId>{escape(caller.user_id)}</UserId>"
        f"<Account>{caller.account}</Account>"
    )
    return _response("GetCallerIdentity", result, request.request_id)


def _assume_role(
    params: Params, caller: Caller, state: SandboxState, request: SandboxRequest
) -> str:
    role_arn, session_name, duration, external_id, source_identity = _validated(params)
    if not caller.is_platform and duration > CHAINED_MAX_SECONDS:
        raise ApiError(
            "ValidationError",
            400,
            "The requested DurationSeconds exceeds the 1 hour session limit for roles "
            "assumed by role chaining.",
        )
    role = state.get_role(role_arn)
    if role is None or (role.external_id is not None and external_id != role.external_id):
        raise ApiError(
            "AccessDenied",
            403,
            f"User: {caller.arn} is not authorized to perform: sts:AssumeRole "
            f"on resource: {role_arn}",
        )
    creds = state.issue_credentials(role, session_name, duration, source_identity)
    expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(creds.expiration))
    source = (
        f"<SourceIdentity>{escape(source_identity)}</SourceIdentity>" if source_identity else ""
    )
    result = (
        f"{source}<AssumedRoleUser><AssumedRoleId>{escape(creds.assumed_role_id)}</AssumedRoleId>"
        f"<Arn>{escape(creds.assumed_role_arn)}</Arn></AssumedRoleUser>"
        f"<Credentials><AccessKeyId>{creds.access_key_id}</AccessKeyId>"
        f"<SecretAccessKey>{creds.secret_access_key}</SecretAccessKey>"
        f"<SessionToken>{creds.session_token}</SessionToken>"
        f"<Expiration>{expiration}</Expiration></Credentials>"
    )
    return _response("AssumeRole", result, request.request_id)


def _validated(params: Params) -> tuple[str, str, int, str | None, str | None]:
    problems: list[str] = []
    role_arn = _required(params, "RoleArn", "roleArn", problems)
    session_name = _required(params, "RoleSessionName", "roleSessionName", problems)
    _check_text(role_arn, "roleArn", 20, 2048, None, problems)
    _check_text(session_name, "roleSessionName", 2, 64, SESSION_NAME_RE, problems)
    external_id = params.get("ExternalId")
    _check_text(external_id, "externalId", 2, 1224, EXTERNAL_ID_RE, problems)
    source_identity = params.get("SourceIdentity")
    _check_text(source_identity, "sourceIdentity", 2, 64, SESSION_NAME_RE, problems)
    duration = _duration(params.get("DurationSeconds"), problems)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise ApiError(
            "ValidationError", 400, f"{count} validation {noun} detected: " + "; ".join(problems)
        )
    return role_arn or "", session_name or "", duration, external_id, source_identity


def _required(params: Params, name: str, member: str, problems: list[str]) -> str | None:
    value = params.get(name)
    if value is None:
        problems.append(
            f"Value null at '{member}' failed to satisfy constraint: Member must not be null"
        )
    return value


def _check_text(
    value: str | None,
    member: str,
    minimum: int,
    maximum: int,
    pattern: re.Pattern[str] | None,
    problems: list[str],
) -> None:
    if value is None:
        return
    prefix = f"Value '{value}' at '{member}' failed to satisfy constraint: Member must"
    if len(value) < minimum:
        problems.append(f"{prefix} have length greater than or equal to {minimum}")
    elif len(value) > maximum:
        problems.append(f"{prefix} have length less than or equal to {maximum}")
    elif pattern is not None and not pattern.match(value):
        problems.append(f"{prefix} satisfy regular expression pattern: {pattern.pattern[1:-1]}")


def _duration(raw: str | None, problems: list[str]) -> int:
    if raw is None:
        return 3600
    prefix = f"Value '{raw}' at 'durationSeconds' failed to satisfy constraint: Member must"
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{prefix} be an integer")
        return 0
    if value < 900:
        problems.append(f"{prefix} have value greater than or equal to 900")
    elif value > 43200:
        problems.append(f"{prefix} have value less than or equal to 43200")
    return value


def _response(action: str, result: str, request_id: str) -> str:
    return (
        f'<{action}Response xmlns="{XMLNS}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )


_ACTIONS: dict[str, Callable[[Params, Caller, SandboxState, SandboxRequest], str]] = {
    "AssumeRole": _assume_role,
    "GetCallerIdentity": _get_caller_identity,
}
