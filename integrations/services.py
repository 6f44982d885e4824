"""What a test and a save do, in plain Python. Views and tasks stay thin around these."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from audit import recorder
from bedrock import policies
from bedrock.values import InvalidValue
from config import live
from integrations import aws, families, hints, runs
from integrations.models import BedrockModel, Configuration, ConnectionTest, Provider

log = logging.getLogger(__name__)

Status = ConnectionTest.Status
Step = ConnectionTest.Step


QueueUnavailable = runs.QueueUnavailable


# --- starting a test ------------------------------------------------------------------


def start_test(
    config: Configuration,
    user: Any,
    integration: BedrockModel | None = None,
    kind: str = ConnectionTest.Kind.MANUAL,
) -> ConnectionTest:
    """Record a queued test of these values and hand it to the worker."""
    from integrations import tasks

    test = ConnectionTest(
        integration=integration,
        created_by=user if user is not None and user.is_authenticated else None,
        kind=kind,
    )
    test.apply(config)
    runs.enqueue(test, tasks.run_connection_test, _finish)
    return test


# --- running a test (in the worker) ---------------------------------------------------


def claim(test_id: int) -> ConnectionTest | None:
    """Take a queued test for this worker; None if another worker has it or it has ended."""
    if not runs.claim(ConnectionTest, test_id, Status.ASSUMING_ROLE):
        return None
    return ConnectionTest.objects.select_related("created_by").get(pk=test_id)


def run_test(test_id: int) -> None:
    test = claim(test_id)
    if test is None:
        log.info("test %s was not claimed (taken or ended)", test_id)
        return
    identity = aws.platform_identity()
    ctx = hints.Context(
        principal_arn=identity.arn,
        role_arn=test.role_arn,
        external_id=test.external_id,
        sts_endpoint=test.sts_endpoint,
        model_id=test.model_id,
        endpoint=test.endpoint,
    )
    user = test.created_by
    session_name = policies.make_session_name(
        "console",
        f"u{user.pk}" if user else "system",
        user.get_username() if user else test.kind,
        f"i{test.integration_id}" if test.integration_id else "new",
        f"t{test.pk}",
    )
    try:
        assumed = aws.assume_role(test.role_arn, test.external_id, test.sts_endpoint, session_name)
    except aws.AwsCallFailed as e:
        _fail(test, Step.STS, e, hints.for_sts(e.code, e.message, ctx), principal=identity.arn)
        return
    except InvalidValue as e:
        _fail_config(test, Step.STS, str(e), principal=identity.arn)
        return

    ConnectionTest.objects.filter(pk=test.pk, status=Status.ASSUMING_ROLE).update(
        status=Status.INVOKING,
        sts_ms=assumed.elapsed_ms,
        credentials_cached=assumed.cached,
        principal_arn=identity.arn or "",
        session_name=session_name,
        assumed_role_arn=assumed.credentials.assumed_role_arn,
    )
    live.changed(ConnectionTest, test.pk)
    config = test.configuration()
    try:
        invocation = _invoke_refreshing_once(config, assumed, session_name)
    except aws.AwsCallFailed as e:
        _fail(test, Step.INVOKE, e, hints.for_invoke(e.code, e.message, ctx))
        return
    except InvalidValue as e:
        _fail_config(test, Step.INVOKE, str(e))
        return
    _record_invocation(test, config, invocation, ctx)


def _invoke_refreshing_once(
    config: Configuration, assumed: aws.Assumed, session_name: str
) -> aws.Invocation:
    def call(creds: aws.AssumedCredentials) -> aws.Invocation:
        return aws.invoke_model(
            config.endpoint,
            config.model_id,
            config.request_json.encode(),
            [(h.name, h.value) for h in config.headers],
            creds,
            keep_bytes=settings.RAW_RESPONSE_LIMIT,
        )

    try:
        return call(assumed.credentials)
    except aws.AwsCallFailed as e:
        if e.code not in aws.EXPIRED_TOKEN_CODES:
            raise
    # The cached session expired early (revoked or clock skew): assume again, once.
    aws.forget_credentials(config.role_arn, config.external_id, config.sts_endpoint)
    fresh = aws.assume_role(config.role_arn, config.external_id, config.sts_endpoint, session_name)
    return call(fresh.credentials)


def _record_invocation(
    test: ConnectionTest, config: Configuration, inv: aws.Invocation, ctx: hints.Context
) -> None:
    raw = inv.body[: settings.RAW_RESPONSE_LIMIT].decode("utf-8", errors="replace")
    common: dict[str, Any] = {
        "http_status": inv.http_status,
        "request_id": inv.request_id,
        "invoke_ms": inv.elapsed_ms,
        "raw_response": raw,
        "raw_response_truncated": inv.truncated,
        "raw_response_bytes": inv.body_bytes,
    }
    try:
        data = json.loads(inv.body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        code, message = "InvalidResponse", "The endpoint's answer is not a JSON object."
        _finish(
            test.pk,
            Status.FAILED,
            failed_step=Step.INVOKE,
            error_code=code,
            error_message=message,
            hint=hints.for_invoke(code, message, ctx),
            **common,
        )
        return
    extracted = families.extract(families.detect_family(config.model_id), data, inv.headers)
    common.update(input_tokens=extracted.input_tokens, output_tokens=extracted.output_tokens)
    if extracted.text is None:
        code = "NoOutputText"
        message = extracted.text_error or "The response holds no output text."
        _finish(
            test.pk,
            Status.FAILED,
            failed_step=Step.INVOKE,
            error_code=code,
            error_message=message,
            hint=hints.for_invoke(code, message, ctx),
            **common,
        )
        return
    _finish(test.pk, Status.SUCCEEDED, output_text=extracted.text, **common)


def _fail(
    test: ConnectionTest, step: str, e: aws.AwsCallFailed, hint: str, principal: str | None = None
) -> None:
    fields: dict[str, Any] = {
        "failed_step": step,
        "error_code": e.code[:100],
        "error_message": e.message[:2000],
        "hint": hint,
        "http_status": e.http_status,
        "request_id": e.request_id[:100],
    }
    if step == Step.STS:
        fields["sts_ms"] = e.elapsed_ms
        fields["principal_arn"] = principal or ""
    else:
        fields["invoke_ms"] = e.elapsed_ms
    _finish(test.pk, Status.FAILED, **fields)


def _fail_config(
    test: ConnectionTest, step: str, message: str, principal: str | None = None
) -> None:
    _finish(
        test.pk,
        Status.FAILED,
        failed_step=step,
        error_code="EndpointNotAllowed",
        error_message=message,
        hint="The console only calls AWS endpoints and origins listed in EXTRA_AWS_ENDPOINTS.",
        principal_arn=principal or "",
    )


def _finish(test_id: int, status: str, **fields: Any) -> bool:
    """End a test exactly once, and note the outcome on its integration."""
    with transaction.atomic():
        ended = runs.finish(ConnectionTest, test_id, status, **fields)
        if ended:
            test = ConnectionTest.objects.only(
                "integration_id", "error_code", "error_message", "finished"
            ).get(pk=test_id)
            if test.integration_id is not None:
                _note_on_integration(test.integration_id, test, status)
    return ended


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
) -> BedrockModel:
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
        obj.apply(config)
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


def _api_serving_changed() -> None:
    # The Invoke API serves prompts with their integration's configuration.
    from prompts_library import apicache

    apicache.changed()


runs.register(ConnectionTest, _finish)
