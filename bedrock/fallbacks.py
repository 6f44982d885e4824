"""`call_chain`: one call served by the first of an ordered list of candidates that answers.

The chain is part of the invocation core, written once: the Invoke API and the chat completions
gateway hand it candidates (a configuration, the request and the record context for each) and a
cooldown store, and get back the answer plus every attempt. A candidate is tried after the one
before it failed with an error worth another model's try (`worth_falling_back`): throttling, a
timeout, a server error or a connection error. A request that is itself invalid, or access that
is denied, fails the call at once: another model would refuse it just the same, or it is a
configuration to fix, not an outage to step around.

Every attempt goes through `invoke.call`, so each one is recorded by the observers on its own
(its integration, its error). A candidate the store says is cooling down is skipped without a
call, unless every candidate is: then the first is tried anyway (fail open). Streamed calls can
move on only while nothing has been handed on yet: once the first text reached the caller, the
answer belongs to that candidate. A candidate with a ready one after it is not retried when
throttled (bedrock.client retries throttling AWS_MAX_ATTEMPTS times otherwise): the next one
answers sooner than a backed-off retry would, so a fallback costs one failed attempt's time.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bedrock import client, families, invoke, observe

COOLING_DOWN = "CoolingDown"

# Lower case, without an "Exception" suffix: stream errors arrive as throttlingException, a
# response as ThrottlingException, STS as Throttling.
_RETRYABLE = frozenset(
    code.lower().removesuffix("exception")
    for code in (
        *client.THROTTLING_CODES,
        "ServiceQuotaExceededException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalServerException",
        "InternalFailure",
        "InternalError",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "ModelStreamErrorException",
        "ConnectTimeout",
        "ReadTimeout",
        "ResponseTimeout",
        "Timeout",
        "EndpointUnreachable",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ProtocolError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
    )
)
_NEVER = frozenset(
    code.lower().removesuffix("exception")
    for code in (
        *client.ACCESS_DENIED_CODES,
        "ValidationException",
        "ResourceNotFoundException",
        invoke.INVALID_REQUEST,
        invoke.ENDPOINT_NOT_ALLOWED,
    )
)


def worth_falling_back(error: invoke.Error, http_status: int | None) -> bool:
    """Whether another model may answer what this one could not: throttled, timed out, a
    server or connection error. Never an invalid request (4xx), access denied, or an answer
    that arrived but could not be read."""
    if error.step == invoke.EXTRACT:
        return False
    code = error.code.lower().removesuffix("exception")
    if code in _NEVER:
        return False
    if code in _RETRYABLE:
        return True
    return http_status is not None and http_status >= 500


class CooldownStore(Protocol):
    """Shared by every process: which candidates failed too often lately."""

    def cooling_until(self, key: str) -> float | None:
        """The epoch time the candidate's cooldown ends; None when it may be called."""
        ...

    def failed(self, key: str) -> None:
        """One more fallback-worthy failure in a row."""
        ...

    def succeeded(self, key: str) -> None:
        """An answer: the count starts again, any cooldown ends."""
        ...


@dataclass(frozen=True, slots=True)
class Candidate:
    key: str  # what the store and the attempts call it (the integration's id)
    name: str  # who served the call, as the answer says it
    config: invoke.Configuration
    request: invoke.Request
    context: observe.CallContext


@dataclass(frozen=True, slots=True)
class Attempt:
    key: str
    name: str
    error_code: str  # "" for the attempt that answered
    message: str
    total_ms: int | None
    sts_ms: int | None = None
    model_ms: int | None = None
    http_status: int | None = None
    skipped: bool = False  # cooling down: not called

    @property
    def ok(self) -> bool:
        return not self.error_code


@dataclass(frozen=True, slots=True)
class Chained:
    result: invoke.Result  # the answer, or the last failure
    served_by: Candidate | None  # None when no candidate answered
    attempts: tuple[Attempt, ...]


class _Watch:
    """Hands text on and remembers that some was: then the answer cannot move elsewhere.
    Before the first piece, it tells `on_serving` which candidate the text comes from."""

    def __init__(
        self, on_text: Callable[[str], None], on_serving: Callable[[str], None] | None
    ) -> None:
        self.on_text = on_text
        self.on_serving = on_serving
        self.name = ""  # the candidate being called
        self.sent = False

    def __call__(self, piece: str) -> None:
        if not self.sent and self.on_serving is not None:
            self.on_serving(self.name)
        self.sent = True
        self.on_text(piece)


def call_chain(
    candidates: Sequence[Candidate],
    options: invoke.Options,
    store: CooldownStore,
) -> Chained:
    """Call the candidates in order until one answers or an error is not worth another try.

    `options.deadline_s`, when given, bounds the whole chain: each attempt gets what is left.
    """
    if not candidates:
        raise ValueError("call_chain needs at least one candidate")
    started = time.monotonic()
    now = time.time()
    cooling = {c.key: store.cooling_until(c.key) for c in candidates}
    ready = {c.key for c in candidates if (cooling[c.key] or 0.0) <= now}
    if not ready:
        ready = {candidates[0].key}  # every one cooling down: try the first anyway (fail open)
    attempts: list[Attempt] = []
    watch = _Watch(options.on_text, options.on_serving) if options.on_text is not None else None
    result: invoke.Result | None = None
    for index, candidate in enumerate(candidates):
        if candidate.key not in ready:
            until = cooling[candidate.key] or now
            attempts.append(
                Attempt(
                    candidate.key,
                    candidate.name,
                    COOLING_DOWN,
                    f"Skipped: cooling down for {max(0.0, until - now):.0f} s more.",
                    None,
                    skipped=True,
                )
            )
            continue
        attempt_options = options
        if options.deadline_s is not None and result is not None:
            # After a failed attempt: what is left of the deadline. The first attempt keeps the
            # caller's own (the read timeout keys botocore's client: a value new at every call
            # would build a client per call).
            left = options.deadline_s - (time.monotonic() - started)
            if left <= 0:
                break
            attempt_options = dataclasses.replace(attempt_options, deadline_s=max(left, 0.001))
        if watch is not None:
            watch.name = candidate.name
            attempt_options = dataclasses.replace(attempt_options, on_text=watch, on_serving=None)
        if any(c.key in ready for c in candidates[index + 1 :]):
            # Somewhere else to go: a throttled call moves on at once instead of retrying.
            with client.throttling_not_retried():
                result = invoke.call(
                    candidate.config, candidate.request, attempt_options, candidate.context
                )
        else:
            result = invoke.call(
                candidate.config, candidate.request, attempt_options, candidate.context
            )
        error = result.error
        attempts.append(
            Attempt(
                candidate.key,
                candidate.name,
                error.code if error else "",
                error.message if error else "",
                result.timings.total_ms,
                result.timings.sts_ms,
                result.timings.model_ms,
                result.http_status,
            )
        )
        if error is None:
            store.succeeded(candidate.key)
            return Chained(result, candidate, tuple(attempts))
        retry = worth_falling_back(error, result.http_status)
        if retry:
            store.failed(candidate.key)
        if not retry or (watch is not None and watch.sent):
            break
    if result is None:  # unreachable: at least one candidate is ready
        raise RuntimeError("no candidate was called")
    return Chained(result, None, tuple(attempts))


def incompatibility(request_format: str, primary_model_id: str, fallback_model_id: str) -> str:
    """Why a request written for the primary cannot run on the fallback ("" when it can).

    A Converse request runs on a model of every family. A request in a family's own JSON
    (InvokeModel) runs only on models of that same family, whose answers are read alike.
    """
    if request_format == invoke.CONVERSE:
        return ""
    primary = families.detect_family(primary_model_id)
    fallback = families.detect_family(fallback_model_id)
    if primary is None:
        return (
            "The request is in its model's own JSON (InvokeModel) and that model's family is "
            "unknown: only a Converse request can fall back to another integration."
        )
    if fallback is None or fallback.key != primary.key:
        their = fallback.label if fallback is not None else "an unknown family"
        return (
            f"The request is in the {primary.label} JSON (InvokeModel), which {their} does not "
            "accept: choose a model of the same family, or use a Converse request, which runs "
            "on every family."
        )
    return ""
