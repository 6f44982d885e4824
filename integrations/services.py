"""What a test and a save do, in plain Python. Views and tasks stay thin around these."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q

from audit import recorder
from bedrock import client, invoke, observe, policies
from config import live
from config.reread import Reread
from integrations import cooldown, fallbacks, runs
from integrations.models import BedrockModel, Configuration, ConnectionTest, Provider
from usage import prices as usage_prices

log = logging.getLogger(__name__)

Status = ConnectionTest.Status
Step = ConnectionTest.Step


QueueUnavailable = runs.QueueUnavailable

# The one way to call an integration that may fall back (the Invoke API, chat completions):
# serve(integration, request, options, context, chain=None) -> Served(result, served_by, attempts).
serve = fallbacks.serve
Served = fallbacks.Served

# A streamed test's text reaches its row (and the page) at most this often.
STREAM_PUBLISH_SECONDS = 0.05


# --- starting a test ------------------------------------------------------------------


def start_test(
    config: Configuration,
    user: Any,
    integration: BedrockModel | None = None,
    kind: str = ConnectionTest.Kind.MANUAL,
    *,
    stream: bool = False,
) -> ConnectionTest:
    """Record a queued test of these values and hand it to the worker.

    With `stream`, the worker streams the answer and the page shows it as it arrives.
    """
    test = ConnectionTest(
        integration=integration,
        created_by=user if user is not None and user.is_authenticated else None,
        kind=kind,
        stream=stream,
    )
    test.apply(config)
    runs.enqueue(test, _finish)
    return test


# --- running a test (in the worker) ---------------------------------------------------


def claim(test_id: int) -> ConnectionTest | None:
    """Take a queued test for this worker; None if another worker has it or it has ended.

    The row is read, then claimed in one UPDATE: straight to Invoking model when the role's
    credentials are still held (AssumeRole is done before it starts), else to Assuming role.
    """
    claimed = _claim(test_id)
    return claimed.test if claimed is not None else None


@dataclass(frozen=True)
class _Claimed:
    """A test this worker took, with what the claim already worked out for its run: the values
    to run (decrypted once) and the console's own principal."""

    test: ConnectionTest
    config: Configuration
    principal: str


@functools.cache
def _queued_reader() -> Reread:
    """How the claim reads a queued test, with who started it: its statement built once."""
    return Reread(ConnectionTest.objects.select_related("created_by"))


def _claim(test_id: int) -> _Claimed | None:
    test = _queued_reader().first_matching(pk=test_id, status=Status.QUEUED)
    if test is None:
        return None
    config = test.configuration()
    principal = client.platform_identity().arn or ""
    held = invoke.held_credentials(config)
    status, fields = Status.ASSUMING_ROLE, {}
    if held is not None:
        status, fields = Status.INVOKING, _assumed_fields(held, 0, principal, _session_name(test))
    if not runs.claim(ConnectionTest, test_id, status, **fields):
        return None
    test.status = status
    return _Claimed(test, config, principal)


def _session_name(test: ConnectionTest) -> str:
    user = test.created_by
    return policies.make_session_name(
        "console",
        f"u{user.pk}" if user else "system",
        user.get_username() if user else test.kind,
        f"i{test.integration_id}" if test.integration_id else "new",
        f"t{test.pk}",
    )


def _assumed_fields(
    credentials: invoke.Credentials, sts_ms: int, principal: str, session_name: str
) -> dict[str, Any]:
    """The row's fields once the role is assumed (its status then: Invoking model)."""
    return {
        "sts_ms": sts_ms,
        "credentials_cached": credentials.reused,
        "credentials_assumed_at": credentials.assumed_at,
        "principal_arn": principal,
        "session_name": session_name,
        "assumed_role_arn": credentials.assumed_role_arn,
    }


def run_test(test_id: int) -> None:
    claimed = _claim(test_id)
    if claimed is None:
        log.info("test %s was not claimed (taken or ended)", test_id)
        return
    test, config, principal = claimed.test, claimed.config, claimed.principal
    user = test.created_by
    session_name = _session_name(test)
    claimed_as = test.status

    feed = _LiveText(test.pk) if test.stream else None

    def assumed(credentials: invoke.Credentials, sts_ms: int) -> None:
        if feed is not None:
            feed.begin()
        if claimed_as == Status.INVOKING and credentials.reused:
            return  # the claim wrote these credentials already
        # (Held at the claim but expired since: the row gets the credentials assumed now.)
        ConnectionTest.objects.filter(pk=test.pk, status__in=ConnectionTest.RUNNING).update(
            status=Status.INVOKING,
            **_assumed_fields(credentials, sts_ms, principal, session_name),
        )
        live.changed(ConnectionTest, test.pk)

    kind = observe.CANARY if test.kind == ConnectionTest.Kind.CANARY else observe.CONNECTION_TEST
    result = invoke.call(
        config,
        invoke.Request(config.request_json.encode(), format=config.request_format),
        invoke.Options(session_name=session_name, on_assumed=assumed, on_text=feed),
        observe.CallContext(
            kind,
            test.integration_id,
            user_id=user.pk if user else None,
            test_id=test.pk,
        ),
    )
    _record(test, result, principal)


class _LiveText:
    """A streamed test's text so far: written to its row and announced at most every
    STREAM_PUBLISH_SECONDS (the page shows it word by word; the row lets a page catch up)."""

    def __init__(self, test_id: int) -> None:
        self.test_id = test_id
        self.parts: list[str] = []
        self.started = time.monotonic()
        self.first_token_ms: int | None = None
        self.written = 0.0

    def begin(self) -> None:
        self.started = time.monotonic()

    def __call__(self, piece: str) -> None:
        now = time.monotonic()
        if self.first_token_ms is None:
            self.first_token_ms = int((now - self.started) * 1000)
        self.parts.append(piece)
        if now - self.written >= STREAM_PUBLISH_SECONDS:
            self.written = now
            ConnectionTest.objects.filter(pk=self.test_id, status=Status.INVOKING).update(
                output_text="".join(self.parts), first_token_ms=self.first_token_ms
            )
            live.changed(ConnectionTest, self.test_id)


def _record(test: ConnectionTest, result: invoke.Result, principal: str) -> None:
    fields: dict[str, Any] = {}
    if test.stream:
        # A stream that broke mid-way keeps the text that arrived.
        fields.update(output_text=result.text or "", first_token_ms=result.first_token_ms)
    if result.credentials is not None:
        fields.update(
            sts_ms=result.timings.sts_ms,
            credentials_cached=result.credentials.reused,
            credentials_assumed_at=result.credentials.assumed_at,
            assumed_role_arn=result.credentials.assumed_role_arn,
        )
    if result.http_status is not None or result.timings.model_ms is not None:
        fields.update(
            http_status=result.http_status,
            request_id=result.request_id,
            invoke_ms=result.timings.model_ms,
        )
    if result.raw_bytes is not None:
        fields.update(
            raw_response=result.raw.decode("utf-8", errors="replace"),
            raw_response_truncated=result.raw_truncated,
            raw_response_bytes=result.raw_bytes,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            stop_reason=(result.stop_reason or "")[:50],
        )
    error = result.error
    if error is None:
        _finish(test.pk, Status.SUCCEEDED, **{"output_text": result.text or "", **fields})
        return
    if error.step == invoke.STS:
        fields.update(principal_arn=principal)
        if error.code != invoke.ENDPOINT_NOT_ALLOWED:
            fields.update(
                sts_ms=result.timings.sts_ms,
                http_status=result.http_status,
                request_id=result.request_id,
            )
    _finish(
        test.pk,
        Status.FAILED,
        # A connection test reads the answer as part of its InvokeModel step.
        failed_step=Step.STS if error.step == invoke.STS else Step.INVOKE,
        error_code=error.code,
        error_message=error.message,
        hint=error.hint,
        **fields,
    )


def _finish(test_id: int, status: str, **fields: Any) -> bool:
    """End a test exactly once, and note the outcome on its integration."""
    with transaction.atomic():
        # This transaction ends the row and notes it on the integration, or does neither.
        test: ConnectionTest | None = runs.end(
            ConnectionTest, test_id, status, savepoint=False, **fields
        )
        if test is not None and test.integration_id is not None:
            _note_on_integration(test.integration_id, test, status)
    if test is None:
        return False
    canary = test.kind == ConnectionTest.Kind.CANARY
    if canary and status == Status.SUCCEEDED and test.integration_id is not None:
        # It answers again: calls need not wait for its cooldown to end.
        cooldown.reset(test.integration_id)
    return True


def _note_on_integration(integration_id: int, test: ConnectionTest, status: str) -> None:
    now = test.finished
    updates: dict[str, Any] = {"last_test_id": test.pk}
    if status == Status.SUCCEEDED:
        updates["last_success_at"] = now
    else:
        updates["last_failure_at"] = now
        updates["last_failure_reason"] = f"{test.error_code}: {test.error_message}"[:500]
    BedrockModel.objects.filter(pk=integration_id).update(**updates)


# --- ending tests that nobody will finish ----------------------------------------------


def reap_stale_tests(test_id: int | None = None) -> int:
    """Fail tests whose worker died (running past the deadline) or that no worker took."""
    tests = ConnectionTest.objects.all()
    if test_id is not None:
        tests = tests.filter(pk=test_id)
    return runs.reap(tests, _finish)


# --- health canary ---------------------------------------------------------------------


def run_canary() -> int:
    """Re-test every saved integration with its saved values; returns how many were queued.

    Results land like any test's, so the integrations list shows each one's last success and
    last failure. An integration whose previous canary has not ended yet is skipped.
    """
    busy = ConnectionTest.objects.filter(kind=ConnectionTest.Kind.CANARY).exclude(
        status__in=ConnectionTest.TERMINAL
    )
    queued = 0
    for integration in BedrockModel.objects.exclude(pk__in=busy.values("integration_id")):
        try:
            start_test(integration.configuration(), None, integration, ConnectionTest.Kind.CANARY)
        except QueueUnavailable:
            log.warning("health canary stopped: the task queue is unavailable")
            break
        queued += 1
    return queued


# --- saving ---------------------------------------------------------------------------


class NotTested(Exception):
    """No successful test of exactly these values."""


def latest_test_of(fingerprint: str, integration: BedrockModel | None) -> ConnectionTest | None:
    qs = ConnectionTest.objects.filter(fingerprint=fingerprint)
    if integration is not None:
        qs = qs.filter(Q(integration=integration) | Q(integration__isnull=True))
    return qs.order_by("-created").first()


def save_integration(
    *,
    provider_name: str,
    model_name: str,
    config: Configuration,
    integration: BedrockModel | None = None,
    require_test: bool = True,
    prices: Mapping[str, Decimal | None] | None = None,
    api_name: str = "",
) -> BedrockModel:
    """Save the tested configuration; ``prices`` (the form's price fields, not tested, not in
    the fingerprint) are saved with it, in the same audit event. A new integration without
    ``api_name`` gets one derived from its names; an existing one keeps its own unless another
    is given."""
    fingerprint = config.fingerprint()
    with transaction.atomic():
        test = latest_test_of(fingerprint, integration)
        if require_test and (test is None or not test.succeeded):
            raise NotTested
        provider = Provider.objects.filter(name__iexact=provider_name).first()
        if provider is None:
            provider = Provider.objects.create(name=provider_name, external_id=config.external_id)
            recorder.record_create(provider)
        obj = integration or BedrockModel()
        before = recorder.snapshot(obj) if integration is not None else None
        obj.provider = provider
        obj.name = model_name
        if api_name:
            obj.api_name = api_name
        obj.apply(config)
        if prices is not None:
            _set_prices(obj, prices)
        if test is not None:
            obj.last_test = test
            if test.succeeded:
                obj.last_success_at = test.finished
        obj.save()
        recorder.record_saved(obj, before)
        _api_serving_changed()
        if test is not None and test.integration_id is None:
            ConnectionTest.objects.filter(fingerprint=fingerprint, integration__isnull=True).update(
                integration=obj
            )
    return obj


def _set_prices(obj: BedrockModel, submitted: Mapping[str, Decimal | None]) -> None:
    for name, output in (("price_input_per_1k", False), ("price_output_per_1k", True)):
        value = usage_prices.to_store(obj.model_id, getattr(obj, name), submitted.get(name), output)
        setattr(obj, name, value)
    transaction.on_commit(usage_prices.forget)


def _api_serving_changed() -> None:
    # The Invoke API serves prompts with their integration's configuration.
    from prompts_library import apicache

    apicache.changed()


runs.register(ConnectionTest, _finish)
