"""Who signed a request: the platform's long-term key or a credential issued by AssumeRole."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from . import PLATFORM_ACCESS_KEY_ID, PLATFORM_ACCOUNT, PLATFORM_ARN, PLATFORM_SECRET_ACCESS_KEY
from .replies import ApiError, SandboxRequest
from .sigv4 import AuthorizationHeader, SigV4Error, parse_authorization, verify
from .state import IssuedCredentials, SandboxState

PLATFORM_USER_ID = "AIDASANDBOXPLATFORM01"
INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."  # noqa: S105
EXPIRED_TOKEN_MESSAGE = "The security token included in the request is expired"  # noqa: S105


@dataclass(frozen=True, slots=True)
class Caller:
    access_key_id: str
    arn: str
    user_id: str
    account: str
    credentials: IssuedCredentials | None  # None: the platform's long-term key

    @property
    def is_platform(self) -> bool:
        return self.credentials is None


@dataclass(frozen=True, slots=True)
class AuthErrors:
    """How one service names each authentication failure."""

    missing: ApiError
    incomplete_code: str
    incomplete_status: int
    mismatch_code: str
    mismatch_status: int
    invalid_token_code: str
    invalid_token_status: int
    expired: ApiError

    def from_sigv4(self, error: SigV4Error) -> ApiError:
        if error.kind == "incomplete":
            return ApiError(self.incomplete_code, self.incomplete_status, error.message)
        if error.kind == "missing":
            return self.missing
        return ApiError(self.mismatch_code, self.mismatch_status, error.message)

    def invalid_token(self) -> ApiError:
        return ApiError(self.invalid_token_code, self.invalid_token_status, INVALID_TOKEN_MESSAGE)


def authenticate(
    request: SandboxRequest, state: SandboxState, service: str, errors: AuthErrors
) -> tuple[Caller, AuthorizationHeader]:
    header = request.header("authorization")
    if header is None:
        raise errors.missing
    try:
        auth = parse_authorization(header)
    except SigV4Error as exc:
        raise errors.from_sigv4(exc) from None
    caller, secret = _resolve_key(request, state, auth.access_key_id, errors)
    try:
        verify(
            method=request.method,
            raw_path=request.raw_path,
            raw_query=request.raw_query,
            headers=request.headers,
            body=request.body,
            auth=auth,
            secret=secret,
            service=service,
            now=state.clock(),
        )
    except SigV4Error as exc:
        raise errors.from_sigv4(exc) from None
    return caller, auth


def _resolve_key(
    request: SandboxRequest, state: SandboxState, access_key_id: str, errors: AuthErrors
) -> tuple[Caller, str]:
    token = request.header("x-amz-security-token")
    if access_key_id == PLATFORM_ACCESS_KEY_ID:
        if token is not None:
            raise errors.invalid_token()
        caller = Caller(access_key_id, PLATFORM_ARN, PLATFORM_USER_ID, PLATFORM_ACCOUNT, None)
        return caller, PLATFORM_SECRET_ACCESS_KEY
    creds = state.lookup_credentials(access_key_id)
    if (
        creds is None
        or token is None
        or not hmac.compare_digest(token.encode(), creds.session_token.encode())
    ):
        raise errors.invalid_token()
    if creds.expired(state.clock()):
        raise errors.expired
    account = creds.assumed_role_arn.split(":")[4]
    caller = Caller(access_key_id, creds.assumed_role_arn, creds.assumed_role_id, account, creds)
    return caller, creds.secret_access_key
