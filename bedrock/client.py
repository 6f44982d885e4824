"""boto3 clients: the platform identity, AssumeRole (cached, single flight), InvokeModel.

Every call goes to an endpoint that passed the endpoint policy, with connect and read
timeouts, SigV4 signing (never a bearer token from the environment), bounded retries with
jittered backoff for throttling, and no redirects (botocore does not follow them).
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from django.conf import settings
from django.core.cache import cache
from urllib3.exceptions import ProtocolError

from bedrock import arns, network
from bedrock.values import InvalidValue

log = logging.getLogger(__name__)

THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "ModelNotReadyException"}
)
EXPIRED_TOKEN_CODES = frozenset({"ExpiredToken", "ExpiredTokenException"})
# Access denied, by STS or Bedrock: a configuration to fix, not an outage to step around.
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "NoPlatformCredentials",
        "RegionDisabledException",
        *EXPIRED_TOKEN_CODES,
    }
)


class AwsCallFailed(Exception):
    """A failed AWS call, described without any secret."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        http_status: int | None = None,
        request_id: str = "",
        elapsed_ms: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.request_id = request_id
        self.elapsed_ms = elapsed_ms


@dataclass(frozen=True)
class Identity:
    arn: str | None
    account: str | None
    error: str | None = None

    @property
    def principal(self) -> str | None:
        """The ARN a trust policy names: a role session (instance or task role) becomes its role."""
        m = _ASSUMED_ROLE.fullmatch(self.arn or "")
        return f"arn:{m[1]}:iam::{m[2]}:role/{m[3]}" if m else self.arn


_ASSUMED_ROLE = re.compile(
    r"arn:(aws|aws-cn|aws-us-gov):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/.+"
)


@dataclass(frozen=True)
class AssumedCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime
    assumed_role_arn: str
    # When and by which session name they were assumed: a later call that reuses them says so.
    assumed_at: datetime | None = None
    session_name: str = ""

    def fresh(self, margin: int) -> bool:
        return datetime.now(UTC) < self.expiration - timedelta(seconds=margin)


@dataclass(frozen=True)
class Assumed:
    credentials: AssumedCredentials
    cached: bool
    elapsed_ms: int
    retries: int


@dataclass(frozen=True)
class Invocation:
    http_status: int
    request_id: str
    headers: dict[str, str]
    body: bytes
    body_bytes: int
    truncated: bool
    elapsed_ms: int
    retries: int


_session_lock = threading.Lock()
_session: boto3.session.Session | None = None
_clients: dict[tuple[Any, ...], Any] = {}
_extra_headers: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "extra_headers", default=()
)


def _boto_session() -> boto3.session.Session:
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session


def _config(**overrides: Any) -> Config:
    options: dict[str, Any] = {
        "region_name": settings.AWS_REGION,
        # SigV4, explicitly: a bearer token in AWS_BEARER_TOKEN_BEDROCK must not replace the role.
        "signature_version": "v4",
        "connect_timeout": settings.AWS_CONNECT_TIMEOUT,
        "read_timeout": settings.AWS_READ_TIMEOUT,
        # Retries are ours (see _with_retries), so that they are bounded and visible.
        "retries": {"mode": "standard", "total_max_attempts": 1},
        "tcp_keepalive": True,
        "max_pool_connections": 64,
    }
    return Config(**{**options, **overrides})


def get_client(
    service: str,
    endpoint_url: str | None,
    credentials: AssumedCredentials | None,
    read_timeout: float | None = None,
    region: str | None = None,
):
    """A client of ``service`` at ``endpoint_url``, signing for ``region`` (default AWS_REGION):
    SigV4 scopes the signature to a region, and AWS refuses one scoped to another region than
    the endpoint's."""
    # A per-call read timeout gets a client of its own: botocore's timeouts are per client.
    key = (
        service,
        endpoint_url,
        credentials.access_key_id if credentials else None,
        read_timeout,
        region,
    )
    client = _clients.get(key)
    if client is not None:
        return client
    # Creating clients from one session is not thread-safe; using them is.
    with _session_lock:
        client = _clients.get(key)
        if client is None:
            overrides: dict[str, Any] = {}
            if region is not None:
                overrides["region_name"] = region
            if read_timeout is not None:
                overrides["read_timeout"] = read_timeout
                overrides["connect_timeout"] = min(settings.AWS_CONNECT_TIMEOUT, read_timeout)
            kwargs: dict[str, Any] = {"config": _config(**overrides)}
            if endpoint_url:
                kwargs["endpoint_url"] = endpoint_url
            if credentials:
                kwargs.update(
                    aws_access_key_id=credentials.access_key_id,
                    aws_secret_access_key=credentials.secret_access_key,
                    aws_session_token=credentials.session_token,
                )
            client = cast(Any, _boto_session()).client(service, **kwargs)
            network.pin(client)
            if service == "bedrock-runtime":
                client.meta.events.register(
                    "before-sign.bedrock-runtime.InvokeModel", _sign_headers
                )
            _drop_stale_clients()
            _clients[key] = client
    return client


def _drop_stale_clients() -> None:
    # One client per set of temporary credentials: keep the cache from growing without bound.
    if len(_clients) > 256:
        for key in list(_clients)[:128]:
            _clients.pop(key, None)


def _sign_headers(request: Any, **_: Any) -> None:
    # Runs before SigV4 signs the request, so the extra headers are signed into it.
    for name, value in _extra_headers.get():
        request.headers[name] = value


# --- platform identity -------------------------------------------------------------------

IDENTITY_CACHE_KEY = "aws:platform-identity"
# A process keeps the identity it found for this long, asking no one: the worker looks at it for
# every test it runs. It comes from the process's own credentials, which the shared cache keeps
# for a day already.
IDENTITY_KEPT_SECONDS = 60.0
# (monotonic time until which it holds, the identity)
_identity: tuple[float, Identity] | None = None


def reset_caches(*, clients: bool = False) -> None:
    """Forget the cached credentials and platform identity; with clients, the boto3 session and
    clients too (they read the environment's credentials when made). For tests."""
    global _session, _identity
    _creds.clear()
    _identity = None
    cache.delete(IDENTITY_CACHE_KEY)
    if clients:
        with _session_lock:
            _clients.clear()
            _session = None


def platform_identity() -> Identity:
    """Who the console is in AWS (the Principal for trust policies), looked up once and cached;
    an identity found (not an error) is also kept in the process for IDENTITY_KEPT_SECONDS."""
    global _identity
    kept = _identity
    if kept is not None and time.monotonic() < kept[0]:
        return kept[1]
    cached = cache.get(IDENTITY_CACHE_KEY)
    identity = Identity(**cached) if cached is not None else _look_up_identity()
    if identity.arn:
        _identity = (time.monotonic() + IDENTITY_KEPT_SECONDS, identity)
    return identity


def _look_up_identity() -> Identity:
    try:
        reply = get_client("sts", None, None).get_caller_identity()
        identity = Identity(arn=reply["Arn"], account=reply["Account"])
        timeout = 24 * 3600
    except NoCredentialsError:
        identity = Identity(None, None, "the console has no AWS credentials of its own")
        timeout = 60
    except ClientError as e:
        identity = Identity(None, None, f"{_code(e)}: {_message(e)}")
        timeout = 60
    except BotoCoreError as e:
        identity = Identity(None, None, f"STS could not be reached ({type(e).__name__})")
        timeout = 60
    cache.set(IDENTITY_CACHE_KEY, identity.__dict__, timeout)
    return identity


# --- AssumeRole ---------------------------------------------------------------------------

_creds: dict[tuple[str, str, str], AssumedCredentials] = {}
_creds_locks: dict[tuple[str, str, str], threading.Lock] = {}
_creds_locks_guard = threading.Lock()


def _lock_for(key: tuple[str, str, str]) -> threading.Lock:
    with _creds_locks_guard:
        return _creds_locks.setdefault(key, threading.Lock())


def held_credentials(role_arn: str, external_id: str, sts_endpoint: str) -> Assumed | None:
    """What assume_role would answer now without calling STS (credentials still fresh), if any."""
    hit = _creds.get((role_arn, external_id, sts_endpoint))
    if hit and hit.fresh(settings.ASSUME_ROLE_REFRESH_MARGIN):
        return Assumed(hit, True, 0, 0)
    return None


def forget_credentials(role_arn: str, external_id: str, sts_endpoint: str) -> None:
    _creds.pop((role_arn, external_id, sts_endpoint), None)


def assume_role(role_arn: str, external_id: str, sts_endpoint: str, session_name: str) -> Assumed:
    """Temporary credentials for the role, reused until a margin before they expire.

    Concurrent callers for the same (role, external id, endpoint) wait for one STS call.
    """
    key = (role_arn, external_id, sts_endpoint)
    margin = settings.ASSUME_ROLE_REFRESH_MARGIN
    started = time.monotonic()
    hit = _creds.get(key)
    if hit and hit.fresh(margin):
        return Assumed(hit, True, _ms_since(started), 0)
    with _lock_for(key):
        hit = _creds.get(key)
        if hit and hit.fresh(margin):
            return Assumed(hit, True, _ms_since(started), 0)
        sts = network.check_url(sts_endpoint, "sts")
        client = get_client("sts", sts_endpoint, None, region=sts.region)
        kwargs: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": settings.ASSUME_ROLE_DURATION,
        }
        if external_id:
            kwargs["ExternalId"] = external_id
        try:
            reply, retries = _with_retries(lambda: client.assume_role(**kwargs), started)
            c = reply["Credentials"]
            creds = AssumedCredentials(
                access_key_id=c["AccessKeyId"],
                secret_access_key=c["SecretAccessKey"],
                session_token=c["SessionToken"],
                expiration=c["Expiration"],
                assumed_role_arn=reply.get("AssumedRoleUser", {}).get("Arn", ""),
                assumed_at=datetime.now(UTC),
                session_name=session_name,
            )
        except (KeyError, TypeError, AttributeError):
            # An answer that is not STS's XML (a proxy's HTML page, an empty body).
            raise AwsCallFailed(
                "InvalidResponse",
                "The STS endpoint's answer holds no credentials (it is not an STS response).",
                elapsed_ms=_ms_since(started),
            ) from None
        _creds[key] = creds
        return Assumed(creds, False, _ms_since(started), retries)


# --- InvokeModel --------------------------------------------------------------------------


def _runtime_client(
    endpoint: str, model_id: str, credentials: AssumedCredentials, read_timeout: float | None
) -> Any:
    """The bedrock-runtime client for a call, signing for the region it is made in."""
    checked = network.check_url(endpoint, "bedrock-runtime")
    region = checked.region or _arn_region(model_id)
    return get_client("bedrock-runtime", endpoint, credentials, read_timeout, region)


@functools.lru_cache(maxsize=1024)
def _arn_region(model_id: str) -> str | None:
    """A model ARN's region: where to sign for when the endpoint's URL names none (an origin
    of EXTRA_AWS_ENDPOINTS: a proxy, the sandbox)."""
    try:
        return arns.parse_model_id(model_id).region
    except InvalidValue:
        return None


def invoke_model(
    endpoint: str,
    model_id: str,
    body: bytes,
    headers: Iterable[tuple[str, str]],
    credentials: AssumedCredentials,
    *,
    keep_bytes: int,
    max_bytes: int = 25_000_000,
    deadline_s: float | None = None,
    read_timeout: float | None = None,
) -> Invocation:
    """Call InvokeModel and read at most max_bytes of the answer within deadline_s.

    The body is read in chunks against a wall-clock deadline, so an endpoint that drips
    one byte at a time cannot hold a test past its time. read_timeout (default
    AWS_READ_TIMEOUT) bounds each wait on the socket, so an endpoint that sends nothing
    cannot hold the calling thread past it either.
    """
    client = _runtime_client(endpoint, model_id, credentials, read_timeout)
    started = time.monotonic()
    deadline = started + (deadline_s or settings.AWS_READ_TIMEOUT)
    token = _extra_headers.set(tuple(headers))
    try:
        reply, retries = _with_retries(
            lambda: client.invoke_model(
                modelId=model_id,
                body=body,
                contentType="application/json",
                accept="application/json",
            ),
            started,
        )
    finally:
        _extra_headers.reset(token)
    meta = reply["ResponseMetadata"]
    stream = reply["body"]
    chunks: list[bytes] = []
    size = 0
    raw = getattr(stream, "_raw_stream", None)
    read = getattr(raw, "read1", None) or stream.read
    try:
        while True:
            if time.monotonic() > deadline:
                raise AwsCallFailed(
                    "ResponseTimeout",
                    "The response body did not arrive in time.",
                    http_status=meta.get("HTTPStatusCode"),
                    request_id=meta.get("RequestId", ""),
                    elapsed_ms=_ms_since(started),
                )
            # read1 returns what has arrived instead of waiting for a full chunk, so the
            # deadline is checked even while an endpoint drips bytes slowly.
            chunk = read(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise AwsCallFailed(
                    "ResponseTooLarge",
                    f"The response is larger than {max_bytes:,} bytes.",
                    http_status=meta.get("HTTPStatusCode"),
                    request_id=meta.get("RequestId", ""),
                    elapsed_ms=_ms_since(started),
                )
            chunks.append(chunk)
    except (ReadTimeoutError, BotoCoreError) as e:
        raise _translate(e, started) from None
    finally:
        stream.close()
    data = b"".join(chunks)
    return Invocation(
        http_status=meta.get("HTTPStatusCode", 0),
        request_id=meta.get("RequestId", ""),
        headers={k.lower(): v for k, v in meta.get("HTTPHeaders", {}).items()},
        body=data,
        body_bytes=size,
        truncated=size > keep_bytes,
        elapsed_ms=_ms_since(started),
        retries=retries,
    )


# --- InvokeModelWithResponseStream ---------------------------------------------------------


@dataclass(frozen=True)
class StreamInvocation:
    http_status: int
    request_id: str
    elapsed_ms: int
    retries: int


class StreamBroken(AwsCallFailed):
    """The stream started, then failed: the chunks handed on before it are all there is."""


def invoke_model_stream(
    endpoint: str,
    model_id: str,
    body: bytes,
    headers: Iterable[tuple[str, str]],
    credentials: AssumedCredentials,
    on_chunk: Callable[[bytes], None],
    *,
    deadline_s: float | None = None,
    read_timeout: float | None = None,
) -> StreamInvocation:
    """Call InvokeModelWithResponseStream; hand on each chunk's bytes as it arrives.

    A failure before the stream starts raises AwsCallFailed; an exception event, a cut
    connection or the deadline once chunks flow raises StreamBroken.
    """

    def on_event(event: dict[str, Any]) -> None:
        chunk = event.get("chunk")
        if chunk is not None:
            on_chunk(chunk.get("bytes", b""))

    return _stream(
        endpoint,
        model_id,
        credentials,
        headers,
        lambda client: client.invoke_model_with_response_stream(
            modelId=model_id, body=body, contentType="application/json", accept="application/json"
        ),
        "body",
        on_event,
        deadline_s=deadline_s,
        read_timeout=read_timeout,
    )


def _stream(
    endpoint: str,
    model_id: str,
    credentials: AssumedCredentials,
    headers: Iterable[tuple[str, str]],
    start: Callable[[Any], dict[str, Any]],
    key: str,
    on_event: Callable[[dict[str, Any]], None],
    *,
    deadline_s: float | None,
    read_timeout: float | None,
) -> StreamInvocation:
    """Start a streaming call (``start`` given the client) and hand on each event of the
    event stream under ``key`` of its reply."""
    client = _runtime_client(endpoint, model_id, credentials, read_timeout)
    started = time.monotonic()
    deadline = started + (deadline_s or settings.AWS_READ_TIMEOUT)
    token = _extra_headers.set(tuple(headers))
    try:
        reply, retries = _with_retries(lambda: start(client), started)
    finally:
        _extra_headers.reset(token)
    meta = reply["ResponseMetadata"]
    status, request_id = meta.get("HTTPStatusCode", 0), meta.get("RequestId", "")

    def broken(code: str, message: str) -> StreamBroken:
        return StreamBroken(
            code, message, http_status=status, request_id=request_id, elapsed_ms=_ms_since(started)
        )

    _read_events(reply[key], on_event, deadline, broken)
    return StreamInvocation(status, request_id, _ms_since(started), retries)


def _read_events(
    events: Any,
    on_event: Callable[[dict[str, Any]], None],
    deadline: float,
    broken: Callable[[str, str], StreamBroken],
) -> None:
    """Hand on each event of an event stream; a failure once it flows raises StreamBroken."""
    try:
        for event in events:
            if time.monotonic() > deadline:
                raise broken("ResponseTimeout", "The stream did not end in time.")
            on_event(event)
    except ClientError as e:  # an exception event (botocore's EventStreamError)
        code = _code(e)
        raise broken(code[:1].upper() + code[1:], _message(e)) from None
    except (BotoCoreError, ProtocolError, OSError) as e:
        message = f"The connection closed in the middle of the stream ({type(e).__name__})."
        raise broken("StreamBroken", message) from None
    finally:
        events.close()


# --- Converse and ConverseStream -----------------------------------------------------------


def converse(
    endpoint: str,
    model_id: str,
    request: dict[str, Any],
    headers: Iterable[tuple[str, str]],
    credentials: AssumedCredentials,
    *,
    keep_bytes: int,
    read_timeout: float | None = None,
) -> Invocation:
    """Call Converse with a checked request (``bedrock.rules.converse_request``); the answer is
    returned as JSON bytes (without botocore's ResponseMetadata), like InvokeModel's body."""
    client = _runtime_client(endpoint, model_id, credentials, read_timeout)
    started = time.monotonic()
    token = _extra_headers.set(tuple(headers))
    try:
        reply, retries = _with_retries(
            lambda: client.converse(modelId=model_id, **request), started
        )
    finally:
        _extra_headers.reset(token)
    meta = reply.pop("ResponseMetadata", {})
    data = json.dumps(reply, default=str).encode()
    return Invocation(
        http_status=meta.get("HTTPStatusCode", 0),
        request_id=meta.get("RequestId", ""),
        headers={k.lower(): v for k, v in meta.get("HTTPHeaders", {}).items()},
        body=data,
        body_bytes=len(data),
        truncated=len(data) > keep_bytes,
        elapsed_ms=_ms_since(started),
        retries=retries,
    )


def converse_stream(
    endpoint: str,
    model_id: str,
    request: dict[str, Any],
    headers: Iterable[tuple[str, str]],
    credentials: AssumedCredentials,
    on_event: Callable[[dict[str, Any]], None],
    *,
    deadline_s: float | None = None,
    read_timeout: float | None = None,
) -> StreamInvocation:
    """Call ConverseStream; hand on each event (messageStart, contentBlockDelta, messageStop,
    metadata...) as it arrives. Failures as for invoke_model_stream."""
    return _stream(
        endpoint,
        model_id,
        credentials,
        headers,
        lambda client: client.converse_stream(modelId=model_id, **request),
        "stream",
        on_event,
        deadline_s=deadline_s,
        read_timeout=read_timeout,
    )


# --- errors and retries -------------------------------------------------------------------

T = TypeVar("T")


# False while a call has somewhere else to go when throttled (bedrock.fallbacks): a retry
# would only make the caller wait for what the next integration can answer at once.
_retry_throttling: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "retry_throttling", default=True
)


@contextmanager
def throttling_not_retried() -> Iterator[None]:
    """Within this block a throttled call fails at once, without AWS_MAX_ATTEMPTS retries."""
    token = _retry_throttling.set(False)
    try:
        yield
    finally:
        _retry_throttling.reset(token)


def _with_retries[T](call: Callable[[], T], started: float) -> tuple[T, int]:
    attempts = settings.AWS_MAX_ATTEMPTS if _retry_throttling.get() else 1
    for attempt in range(attempts):
        try:
            return call(), attempt
        except ClientError as e:
            if _code(e) in THROTTLING_CODES and attempt + 1 < attempts:
                # Full jitter (AWS architecture blog): spread retries of many callers apart.
                # A pseudo-random delay, not a secret (bandit B311 reviewed).
                time.sleep(random.uniform(0, min(4.0, 0.2 * 2**attempt)))  # noqa: S311  # nosec B311
                continue
            raise _translate(e, started) from None
        except BotoCoreError as e:
            raise _translate(e, started) from None
    raise AssertionError("unreachable")


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", "Unknown"))


def _message(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Message", "")) or str(e)


def _translate(e: Exception, started: float) -> AwsCallFailed:
    elapsed = _ms_since(started)
    if isinstance(e, ClientError):
        meta = e.response.get("ResponseMetadata", {})
        return AwsCallFailed(
            _code(e),
            _message(e),
            http_status=meta.get("HTTPStatusCode"),
            request_id=meta.get("RequestId", ""),
            elapsed_ms=elapsed,
        )
    if isinstance(e, ConnectTimeoutError):
        return AwsCallFailed(
            "ConnectTimeout",
            "The endpoint did not accept a connection in time.",
            elapsed_ms=elapsed,
        )
    if isinstance(e, ReadTimeoutError):
        return AwsCallFailed(
            "ReadTimeout", "The endpoint did not answer in time.", elapsed_ms=elapsed
        )
    if isinstance(e, EndpointConnectionError):
        return AwsCallFailed(
            "EndpointUnreachable", "The endpoint could not be reached.", elapsed_ms=elapsed
        )
    if isinstance(e, ParamValidationError):
        # botocore's own check of a request's shape (a Converse request it does not accept).
        return AwsCallFailed("ValidationException", str(e)[:2000], elapsed_ms=elapsed)
    if isinstance(e, NoCredentialsError):
        return AwsCallFailed(
            "NoPlatformCredentials",
            "The console has no AWS credentials of its own.",
            elapsed_ms=elapsed,
        )
    return AwsCallFailed(
        type(e).__name__, "The AWS call failed before an answer arrived.", elapsed_ms=elapsed
    )


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
