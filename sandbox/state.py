"""Mutable sandbox state: roles, issued credentials, faults, global delays, stats, request log.

One lock guards everything; each method holds it only for dictionary work, never while sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from . import DEMO_EXTERNAL_ID, DEMO_ROLE_ARN, iam

FAULT_TARGETS = ("invoke", "sts")
# Faults that only a streaming operation can show; other calls pass them by.
STREAM_FAULT_MODES = ("stream_error", "stream_cut", "slow_first_byte")
FAULT_MODES = (
    "delay",
    "throttle",
    "error",
    "hang",
    "drip",
    "non_json",
    "empty_object",
    "huge",
    "expired_once",
    "close",
    *STREAM_FAULT_MODES,
)
# The bedrock-runtime operations the sandbox answers, and the IAM action each one needs.
OPERATION_ACTIONS = {
    "InvokeModel": "bedrock:InvokeModel",
    "Converse": "bedrock:InvokeModel",
    "InvokeModelWithResponseStream": "bedrock:InvokeModelWithResponseStream",
    "ConverseStream": "bedrock:InvokeModelWithResponseStream",
}
DEFAULT_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
# Exception events a Bedrock stream can end with (ConverseStream has all but modelTimeout).
STREAM_EXCEPTIONS = (
    "modelStreamErrorException",
    "internalServerException",
    "throttlingException",
    "validationException",
    "serviceUnavailableException",
    "modelTimeoutException",
)
MAX_RECORDED_REQUESTS = 200
_PRUNE_CREDENTIALS_ABOVE = 10_000
_UPPER_ALNUM = string.ascii_uppercase + string.digits
ROLE_ARN_RE = re.compile(
    r"^arn:aws(?:-cn|-us-gov)?:iam::(?P<account>\d{12}):role/"
    r"(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]{1,64})$"
)


@dataclass(frozen=True, slots=True)
class Role:
    arn: str
    external_id: str | None = None
    models: tuple[str, ...] = ("*",)
    actions: tuple[str, ...] = DEFAULT_ACTIONS  # fnmatch patterns of IAM actions
    # A permission policy document: when given, it alone decides (see sandbox.iam), on every
    # resource the call needs (an inference profile and the models it routes to).
    policy: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def account(self) -> str:
        match = ROLE_ARN_RE.match(self.arn)
        return match["account"] if match else "000000000000"

    @property
    def name(self) -> str:
        match = ROLE_ARN_RE.match(self.arn)
        return match["name"] if match else self.arn.rsplit("/", 1)[-1]

    @property
    def role_id(self) -> str:
        """Stable AROA... id derived from the ARN, like IAM's unique role id."""
        digest = base64.b32encode(hashlib.sha256(self.arn.encode()).digest()).decode()
        return "AROA" + digest[:17]

    def allows_model(self, model_id: str) -> bool:
        return any(fnmatchcase(model_id, pattern) for pattern in self.models)

    def allows_action(self, action: str) -> bool:
        return any(fnmatchcase(action, pattern) for pattern in self.actions)

    def denied_resource(
        self, action: str, model_id: str, checks: Iterable[tuple[str, dict[str, str]]]
    ) -> str | None:
        """The first resource (ARN) the call needs that the role may not use, else None.

        ``checks`` are (resource ARN, request context) pairs. Without a policy document the
        role's model patterns judge the id as invoked, and its action patterns the action."""
        checks = list(checks)
        if self.policy is None:
            if self.allows_action(action) and self.allows_model(model_id):
                return None
            return checks[0][0] if checks else model_id
        for resource, context in checks:
            if not iam.allows(self.policy, action, resource, context):
                return resource
        return None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "role_arn": self.arn,
            "external_id": self.external_id,
            "models": list(self.models),
            "actions": list(self.actions),
        }
        if self.policy is not None:
            data["policy"] = self.policy
        return data


@dataclass(slots=True)
class IssuedCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: float
    role_arn: str
    session_name: str
    assumed_role_arn: str
    assumed_role_id: str
    source_identity: str | None = None

    def expired(self, now: float) -> bool:
        return now >= self.expiration


@dataclass(slots=True)
class Fault:
    id: int
    target: str
    mode: str
    match: str = "*"
    operation: str = "*"  # fnmatch pattern of operation names (InvokeModel, ConverseStream...)
    times: int | None = None
    ms: int = 0
    code: str | None = None
    status: int | None = None
    message: str | None = None
    seconds: float = 120.0
    interval_ms: int | None = None  # drip: between bytes (500); streams: between events
    mb: float = 50.0
    after: int = 3  # stream_error, stream_cut: text deltas delivered before the fault
    fired_for: set[str] = field(default_factory=set)

    @property
    def drip_interval_ms(self) -> int:
        return 500 if self.interval_ms is None else self.interval_ms

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "target": self.target,
            "match": self.match,
            "operation": self.operation,
            "mode": self.mode,
            "times": self.times,
        }
        if self.interval_ms is not None:
            data["interval_ms"] = self.interval_ms
        data.update(_MODE_FIELDS.get(self.mode, lambda _f: {})(self))
        return data


_MODE_FIELDS: dict[str, Callable[[Fault], dict[str, Any]]] = {
    "delay": lambda f: {"ms": f.ms},
    "error": lambda f: {"code": f.code, "status": f.status, "message": f.message},
    "hang": lambda f: {"seconds": f.seconds},
    "drip": lambda f: {"interval_ms": f.drip_interval_ms},
    "huge": lambda f: {"mb": f.mb},
    "stream_error": lambda f: {"after": f.after, "code": f.code, "message": f.message},
    "stream_cut": lambda f: {"after": f.after},
    "slow_first_byte": lambda f: {"ms": f.ms},
}


class SandboxState:
    """Thread-safe registry shared by the HTTP handler threads and in-process tests."""

    def __init__(
        self,
        *,
        invoke_delay_ms: int = 0,
        sts_delay_ms: int = 0,
        stream_interval_ms: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._default_delays = (invoke_delay_ms, sts_delay_ms, stream_interval_ms)
        self._roles: dict[str, Role] = {}
        self._credentials: dict[str, IssuedCredentials] = {}
        self._faults: list[Fault] = []
        self._fault_ids = 0
        self._requests: deque[dict[str, Any]] = deque(maxlen=MAX_RECORDED_REQUESTS)
        self._wake = threading.Event()
        self.invoke_delay_ms, self.sts_delay_ms, self.stream_interval_ms = self._default_delays
        self._reset_counters()
        self._register_demo_role()

    # -- roles -------------------------------------------------------------------------------

    def add_role(
        self,
        role_arn: str,
        external_id: str | None = None,
        models: Iterable[str] = ("*",),
        actions: Iterable[str] = DEFAULT_ACTIONS,
        policy: dict[str, Any] | None = None,
    ) -> Role:
        if not ROLE_ARN_RE.match(role_arn):
            raise ValueError(f"not an IAM role ARN: {role_arn!r}")
        patterns, allowed = tuple(models), tuple(actions)
        if not all(isinstance(p, str) and p for p in patterns):
            raise ValueError("models must be a list of non-empty fnmatch patterns")
        if not all(isinstance(a, str) and a for a in allowed):
            raise ValueError("actions must be a list of non-empty fnmatch patterns")
        if policy is not None:
            policy = iam.check_policy(policy)
        role = Role(role_arn, external_id, patterns, allowed, policy)
        with self._lock:
            self._roles[role_arn] = role
        return role

    def remove_role(self, role_arn: str) -> bool:
        if role_arn == DEMO_ROLE_ARN:
            raise ValueError("the demo role is always registered; PUT it to change it")
        with self._lock:
            return self._roles.pop(role_arn, None) is not None

    def get_role(self, role_arn: str) -> Role | None:
        with self._lock:
            return self._roles.get(role_arn)

    def roles(self) -> list[dict[str, Any]]:
        with self._lock:
            return [role.to_json() for role in self._roles.values()]

    # -- credentials -------------------------------------------------------------------------

    def issue_credentials(
        self,
        role: Role,
        session_name: str,
        duration_seconds: int = 3600,
        source_identity: str | None = None,
    ) -> IssuedCredentials:
        now = self.clock()
        creds = IssuedCredentials(
            access_key_id="ASIA" + "".join(secrets.choice(_UPPER_ALNUM) for _ in range(16)),
            secret_access_key=secrets.token_urlsafe(30)[:40],
            session_token="FwoGZXIvYXdzESANDBOX" + secrets.token_urlsafe(96),
            expiration=float(int(now) + duration_seconds),
            role_arn=role.arn,
            session_name=session_name,
            assumed_role_arn=f"arn:aws:sts::{role.account}:assumed-role/{role.name}/{session_name}",
            assumed_role_id=f"{role.role_id}:{session_name}",
            source_identity=source_identity,
        )
        with self._lock:
            if len(self._credentials) > _PRUNE_CREDENTIALS_ABOVE:
                self._credentials = {
                    key: c for key, c in self._credentials.items() if not c.expired(now)
                }
            self._credentials[creds.access_key_id] = creds
        return creds

    def lookup_credentials(self, access_key_id: str) -> IssuedCredentials | None:
        with self._lock:
            return self._credentials.get(access_key_id)

    def expire_credentials(self, access_key_id: str | None = None) -> int:
        """Make one (or every) issued credential expired now; returns how many changed."""
        now = self.clock()
        with self._lock:
            targets = (
                list(self._credentials.values())
                if access_key_id is None
                else [c for c in (self._credentials.get(access_key_id),) if c is not None]
            )
            for creds in targets:
                creds.expiration = min(creds.expiration, now - 1)
            return len(targets)

    # -- faults ------------------------------------------------------------------------------

    def add_fault(
        self,
        target: str,
        mode: str,
        *,
        match: str = "*",
        operation: str = "*",
        times: int | None = None,
        ms: int | None = None,
        code: str | None = None,
        status: int | None = None,
        message: str | None = None,
        seconds: float | None = None,
        interval_ms: int | None = None,
        mb: float | None = None,
        after: int | None = None,
    ) -> Fault:
        if target not in FAULT_TARGETS:
            raise ValueError(f"target must be one of {', '.join(FAULT_TARGETS)}")
        if mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
        if target == "sts" and (mode in STREAM_FAULT_MODES or operation != "*"):
            raise ValueError("STS has no streams or operations to choose: use target invoke")
        if mode == "throttle" and times is None:
            times = 1
        _check_non_negative(
            times=times, ms=ms, seconds=seconds, interval_ms=interval_ms, mb=mb, after=after
        )
        if status is not None and not 100 <= status <= 599:
            raise ValueError("status must be an HTTP status code")
        if mode == "stream_error":
            code = stream_exception_type(code or STREAM_EXCEPTIONS[0])
        with self._lock:
            self._fault_ids += 1
            fault = Fault(
                id=self._fault_ids,
                target=target,
                mode=mode,
                match=match,
                operation=operation,
                times=times,
                ms=ms or 0,
                code=code,
                status=status,
                message=message,
                seconds=120.0 if seconds is None else seconds,
                interval_ms=interval_ms,
                mb=50.0 if mb is None else mb,
                after=3 if after is None else after,
            )
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._faults]

    def take_fault(
        self,
        target: str,
        subject: str,
        access_key_id: str,
        operation: str = "",
        *,
        streaming: bool = False,
    ) -> Fault | None:
        """The most recent matching fault, with its remaining ``times`` consumed by one.

        ``operation`` is the bedrock-runtime operation called ("" for STS); a fault whose mode
        only a stream can show is left for the next streaming call.
        """
        with self._lock:
            for fault in reversed(self._faults):
                if fault.target != target or not fnmatchcase(subject, fault.match):
                    continue
                if not fnmatchcase(operation, fault.operation):
                    continue
                if fault.mode in STREAM_FAULT_MODES and not streaming:
                    continue
                if fault.mode == "expired_once":
                    if access_key_id in fault.fired_for:
                        continue
                    fault.fired_for.add(access_key_id)
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    # -- config, waiting ---------------------------------------------------------------------

    def set_config(
        self,
        invoke_delay_ms: int | None = None,
        sts_delay_ms: int | None = None,
        stream_interval_ms: int | None = None,
    ) -> dict[str, int]:
        _check_non_negative(
            invoke_delay_ms=invoke_delay_ms,
            sts_delay_ms=sts_delay_ms,
            stream_interval_ms=stream_interval_ms,
        )
        with self._lock:
            if invoke_delay_ms is not None:
                self.invoke_delay_ms = invoke_delay_ms
            if sts_delay_ms is not None:
                self.sts_delay_ms = sts_delay_ms
            if stream_interval_ms is not None:
                self.stream_interval_ms = stream_interval_ms
        return self.config()

    def config(self) -> dict[str, int]:
        return {
            "invoke_delay_ms": self.invoke_delay_ms,
            "sts_delay_ms": self.sts_delay_ms,
            "stream_interval_ms": self.stream_interval_ms,
        }

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; returns True early when reset() or wake_all() interrupts."""
        if seconds <= 0:
            return False
        return self._wake.wait(seconds)

    def wake_all(self) -> None:
        """Release every handler sleeping in wait() (hang, drip, delays)."""
        with self._lock:
            event, self._wake = self._wake, threading.Event()
        event.set()

    # -- stats and request log ---------------------------------------------------------------

    def count_assume_role(self, role_arn: str) -> None:
        with self._lock:
            self._assume_role_calls += 1
            by_role = self._assume_role_calls_by_role
            by_role[role_arn] = by_role.get(role_arn, 0) + 1

    def count_get_caller_identity(self) -> None:
        with self._lock:
            self._get_caller_identity_calls += 1

    def record_invoke(self, entry: dict[str, Any]) -> None:
        """Count a bedrock-runtime call (any operation) and log ``entry`` (no secrets in it)."""
        with self._lock:
            self._invoke_calls += 1
            by_operation = self._calls_by_operation
            operation = entry.get("operation", "InvokeModel")
            by_operation[operation] = by_operation.get(operation, 0) + 1
            self._requests.append(entry)

    def finish_invoke(
        self, entry: dict[str, Any], status: int | None, error_code: str | None
    ) -> None:
        with self._lock:
            entry["status"] = status
            entry["error_code"] = error_code

    def finish_stream(
        self, entry: dict[str, Any], events: int, ended: str, error_code: str | None
    ) -> None:
        """Record how a stream ended: complete, exception, cut, interrupted or client_gone."""
        with self._lock:
            entry["stream"] = {"events": events, "ended": ended}
            if error_code is not None:
                entry["error_code"] = error_code

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "assume_role_calls": self._assume_role_calls,
                "assume_role_calls_by_role": dict(self._assume_role_calls_by_role),
                "invoke_calls": self._invoke_calls,
                "calls_by_operation": dict(self._calls_by_operation),
                "get_caller_identity_calls": self._get_caller_identity_calls,
            }

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._requests]

    def reset(self) -> None:
        """Clear stats, request log, faults, delays and every role except the demo role.

        Issued credentials survive (as in AWS, a reset of test fixtures does not revoke them);
        delays go back to the values the state was created with (the CLI flags).
        """
        with self._lock:
            self._reset_counters()
            self._requests.clear()
            self._faults.clear()
            self._roles.clear()
            self.invoke_delay_ms, self.sts_delay_ms, self.stream_interval_ms = self._default_delays
        self._register_demo_role()
        self.wake_all()

    def _reset_counters(self) -> None:
        self._assume_role_calls = 0
        self._assume_role_calls_by_role: dict[str, int] = {}
        self._invoke_calls = 0
        self._calls_by_operation: dict[str, int] = {}
        self._get_caller_identity_calls = 0

    def _register_demo_role(self) -> None:
        self.add_role(DEMO_ROLE_ARN, DEMO_EXTERNAL_ID, ("*",))


def stream_exception_type(code: str) -> str:
    """The event-stream name of an exception: ThrottlingException -> throttlingException."""
    name = code[:1].lower() + code[1:]
    if name not in STREAM_EXCEPTIONS:
        raise ValueError(f"code must be one of {', '.join(STREAM_EXCEPTIONS)}")
    return name


def _check_non_negative(**values: float | None) -> None:
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a non-negative number")
