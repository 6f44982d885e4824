"""Versions, publishing, prompt tests and the Invoke API's model call. Views and tasks stay thin."""

from __future__ import annotations

import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import jmespath
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from audit import recorder
from bedrock import policies
from bedrock.values import InvalidValue
from integrations import aws, families, hints, runs
from integrations.models import BedrockModel
from prompts_library import apicache, rendering
from prompts_library.models import Feature, Prompt, PromptTest, PromptVersion

log = logging.getLogger(__name__)

Status = PromptTest.Status
Step = PromptTest.Step

QueueUnavailable = runs.QueueUnavailable


@dataclass(frozen=True)
class VersionContent:
    request_template: str
    response_path: str
    input_tokens_path: str = ""
    output_tokens_path: str = ""
    samples: dict[str, str] | None = None


# --- prompts and versions ---------------------------------------------------------------


def _unique_slug(name: str) -> str:
    base = slugify(name)[:200] or "prompt"
    if base.isdigit():
        # Digits would read as a prompt id in the Invoke API's URL.
        base = f"prompt-{base}"
    slug, n = base, 1
    while Prompt.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_prompt(
    *,
    name: str,
    integration: BedrockModel,
    feature: Feature,
    content: VersionContent,
    author: Any,
    change_note: str = "",
) -> Prompt:
    with transaction.atomic():
        prompt = Prompt.objects.create(
            name=name, slug=_unique_slug(name), integration=integration, feature=feature
        )
        recorder.record_create(prompt)
        save_version(prompt, content, author, change_note or "Created")
    return prompt


def update_prompt(
    prompt: Prompt,
    *,
    name: str,
    integration: BedrockModel,
    feature: Feature,
    content: VersionContent,
    author: Any,
    change_note: str = "",
) -> PromptVersion:
    """Every save of the editing page creates a new version, even when only the name changed."""
    with transaction.atomic():
        before = recorder.snapshot(prompt)
        prompt.name = name
        prompt.integration = integration
        prompt.feature = feature
        prompt.save(update_fields=["name", "integration", "feature", "updated"])
        recorder.record_update(prompt, before)
        apicache.changed()
        return save_version(prompt, content, author, change_note)


def save_version(
    prompt: Prompt, content: VersionContent, author: Any, change_note: str = ""
) -> PromptVersion:
    variables = rendering.find_variables(content.request_template)
    samples = {k: str(v) for k, v in (content.samples or {}).items() if k in variables}
    for attempt in range(3):
        try:
            with transaction.atomic():
                # Lock the prompt row so that concurrent saves number their versions in turn.
                Prompt.objects.select_for_update().filter(pk=prompt.pk).first()
                last = prompt.versions.aggregate(n=Max("number"))["n"] or 0
                version = PromptVersion.objects.create(
                    prompt=prompt,
                    number=last + 1,
                    request_template=content.request_template,
                    response_path=content.response_path,
                    input_tokens_path=content.input_tokens_path,
                    output_tokens_path=content.output_tokens_path,
                    samples=samples,
                    change_note=change_note[:500],
                    author=author if getattr(author, "is_authenticated", False) else None,
                )
                Prompt.objects.filter(pk=prompt.pk).update(updated=timezone.now())
                recorder.record_create(version)
                return version
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def publish(prompt: Prompt, version: PromptVersion) -> None:
    if version.prompt_id != prompt.pk:
        raise ValueError("The version belongs to another prompt.")
    with transaction.atomic():
        previous = prompt.published_version
        prompt.published_version = version
        prompt.save(update_fields=["published_version", "updated"])
        recorder.record(
            recorder.Action.PUBLISH,
            prompt,
            {"version": version.number, "previous_version": previous and previous.number},
        )
        apicache.changed()


def rollback(prompt: Prompt, old: PromptVersion, author: Any) -> PromptVersion:
    """Publish an old version's content as a new version, so that history only grows."""
    with transaction.atomic():
        version = save_version(
            prompt,
            VersionContent(
                request_template=old.request_template,
                response_path=old.response_path,
                input_tokens_path=old.input_tokens_path,
                output_tokens_path=old.output_tokens_path,
                samples=old.samples,
            ),
            author,
            f"Rollback to version {old.number}",
        )
        publish(prompt, version)
        recorder.record(
            recorder.Action.ROLLBACK,
            prompt,
            {"to_version": old.number, "new_version": version.number},
            user=author,
        )
    return version


# --- calling the model ------------------------------------------------------------------


class CallFailed(Exception):
    def __init__(self, step: str, error: aws.AwsCallFailed, hint: str) -> None:
        super().__init__(str(error))
        self.step = step
        self.error = error
        self.hint = hint


@dataclass(frozen=True)
class Call:
    assumed: aws.Assumed
    invocation: aws.Invocation


def _context(integration: BedrockModel) -> hints.Context:
    return hints.Context(
        principal_arn=aws.platform_identity().arn,
        role_arn=integration.role_arn,
        external_id=integration.external_id,
        sts_endpoint=integration.sts_endpoint,
        model_id=integration.model_id,
        endpoint=integration.endpoint,
    )


def _not_allowed(e: InvalidValue) -> aws.AwsCallFailed:
    return aws.AwsCallFailed("EndpointNotAllowed", str(e))


def call_model(
    integration: BedrockModel, body: bytes, session_name: str, deadline_s: float | None = None
) -> Call:
    """AssumeRole (cached) and InvokeModel with the integration's configuration."""
    config = integration.configuration()
    try:
        assumed = aws.assume_role(
            config.role_arn, config.external_id, config.sts_endpoint, session_name
        )
    except aws.AwsCallFailed as e:
        hint = hints.for_sts(e.code, e.message, _context(integration))
        raise CallFailed(Step.STS, e, hint) from None
    except InvalidValue as e:
        raise CallFailed(Step.STS, _not_allowed(e), _ENDPOINT_HINT) from None

    def invoke(creds: aws.AssumedCredentials) -> aws.Invocation:
        return aws.invoke_model(
            config.endpoint,
            config.model_id,
            body,
            [(h.name, h.value) for h in config.headers],
            creds,
            keep_bytes=settings.RAW_RESPONSE_LIMIT,
            deadline_s=deadline_s,
            # The caller's deadline also bounds the HTTP call, so no thread outlives it.
            read_timeout=deadline_s,
        )

    try:
        try:
            return Call(assumed, invoke(assumed.credentials))
        except aws.AwsCallFailed as e:
            if e.code not in aws.EXPIRED_TOKEN_CODES:
                raise
        # The cached session ended early (revoked or clock skew): assume again, once.
        aws.forget_credentials(config.role_arn, config.external_id, config.sts_endpoint)
        assumed = aws.assume_role(
            config.role_arn, config.external_id, config.sts_endpoint, session_name
        )
        return Call(assumed, invoke(assumed.credentials))
    except aws.AwsCallFailed as e:
        raise CallFailed(
            Step.INVOKE, e, hints.for_invoke(e.code, e.message, _context(integration))
        ) from None
    except InvalidValue as e:
        raise CallFailed(Step.INVOKE, _not_allowed(e), _ENDPOINT_HINT) from None


_ENDPOINT_HINT = "The console only calls AWS endpoints and origins listed in EXTRA_AWS_ENDPOINTS."


@dataclass(frozen=True)
class Extraction:
    text: str | None
    error: str
    input_tokens: int | None
    output_tokens: int | None


def _count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    return None


def _search(path: str, data: Any) -> Any:
    if not path:
        return None
    try:
        return jmespath.search(path, data)
    except jmespath.exceptions.JMESPathError:
        return None


def extract(
    version: PromptVersion | PromptTest, body: bytes, headers: dict[str, str]
) -> Extraction:
    """The text at the version's Response path, and token counts (paths, then headers)."""
    header_in = _count(headers.get(families.INPUT_TOKENS_HEADER))
    header_out = _count(headers.get(families.OUTPUT_TOKENS_HEADER))
    try:
        data = json.loads(body)
    except ValueError:
        return Extraction(None, "The response is not JSON.", header_in, header_out)
    tokens_in = _count(_search(version.input_tokens_path, data))
    tokens_out = _count(_search(version.output_tokens_path, data))
    tokens_in = header_in if tokens_in is None else tokens_in
    tokens_out = header_out if tokens_out is None else tokens_out
    if data == {}:
        return Extraction(None, "The response is an empty JSON object.", tokens_in, tokens_out)
    try:
        found = jmespath.search(version.response_path, data)
    except jmespath.exceptions.JMESPathError as e:
        return Extraction(
            None, f"The Response path is not valid JMESPath: {e}", tokens_in, tokens_out
        )
    if found is None:
        return Extraction(
            None,
            f"The Response path {version.response_path} finds nothing in this response.",
            tokens_in,
            tokens_out,
        )
    if not isinstance(found, str):
        kind = type(found).__name__.replace("dict", "object").replace("list", "array")
        return Extraction(
            None,
            f"The Response path finds a JSON {kind}, not text: point it at a string.",
            tokens_in,
            tokens_out,
        )
    return Extraction(found, "", tokens_in, tokens_out)


def _session_name(user: Any, *parts: str) -> str:
    return policies.make_session_name(
        "console",
        f"u{user.pk}" if user else "system",
        user.get_username() if user else "api",
        *parts,
    )


# --- prompt tests -----------------------------------------------------------------------


def start_test(
    prompt: Prompt, version: PromptVersion, user: Any, integration: BedrockModel | None = None
) -> PromptTest:
    """Render with the version's samples, record a queued test, and hand it to the worker.

    With an integration, the version is tried on that model instead of the prompt's.
    Raises rendering.RenderError when the samples do not render.
    """
    return _start(prompt, version, _content_of(version), user, integration)


def start_draft_test(
    prompt: Prompt, content: VersionContent, user: Any, integration: BedrockModel | None = None
) -> PromptTest:
    """Test the editing page's unsaved values: a test without a version, nothing saved."""
    return _start(prompt, None, content, user, integration)


def _content_of(version: PromptVersion) -> VersionContent:
    return VersionContent(
        request_template=version.request_template,
        response_path=version.response_path,
        input_tokens_path=version.input_tokens_path,
        output_tokens_path=version.output_tokens_path,
        samples=version.samples,
    )


def _start(
    prompt: Prompt,
    version: PromptVersion | None,
    content: VersionContent,
    user: Any,
    integration: BedrockModel | None,
) -> PromptTest:
    from prompts_library import tasks

    rendered = rendering.render_samples(content.request_template, content.samples or {})
    test = PromptTest(
        prompt=prompt,
        version=version,
        integration=integration
        if integration and integration.pk != prompt.integration_id
        else None,
        response_path=content.response_path,
        input_tokens_path=content.input_tokens_path,
        output_tokens_path=content.output_tokens_path,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        rendered_request=rendered,
    )
    runs.enqueue(test, tasks.run_prompt_test, _finish)
    return test


def affected_prompts(integration: BedrockModel) -> list[Prompt]:
    """The published prompts that call this integration, each with `last_test` of its
    published version (None when it was never tested)."""
    prompts = list(
        Prompt.objects.filter(integration=integration, published_version__isnull=False)
        .select_related("published_version", "feature")
        .order_by("name")
    )
    for prompt in prompts:
        prompt.last_test = (  # type: ignore[attr-defined]
            PromptTest.objects.filter(version_id=prompt.published_version_id)
            .order_by("-created")
            .first()
        )
    return prompts


def retest_published(prompts: list[Prompt], user: Any) -> list[PromptTest]:
    """Start a test of each prompt's published version; `last_test` becomes the new test.

    Raises QueueUnavailable when the queue refuses one (the tests started before stay).
    """
    tests = []
    for prompt in prompts:
        version = prompt.published_version
        if version is None:
            continue
        try:
            test = start_test(prompt, version, user)
        except rendering.RenderError:
            continue
        prompt.last_test = test  # type: ignore[attr-defined]
        tests.append(test)
    return tests


def claim(test_id: int) -> PromptTest | None:
    if not runs.claim(PromptTest, test_id, Status.RUNNING):
        return None
    return PromptTest.objects.select_related(
        "created_by", "version", "integration", "prompt__integration"
    ).get(pk=test_id)


def run_test(test_id: int) -> None:
    test = claim(test_id)
    if test is None:
        log.info("prompt test %s was not claimed (taken or ended)", test_id)
        return
    integration = test.model()
    session = _session_name(test.created_by, f"p{test.prompt_id}", f"pt{test.pk}")
    try:
        call = call_model(integration, test.rendered_request.encode(), session)
    except CallFailed as f:
        e = f.error
        _finish(
            test.pk,
            Status.FAILED,
            failed_step=f.step,
            error_code=e.code[:100],
            error_message=e.message[:2000],
            hint=f.hint,
            http_status=e.http_status,
            request_id=e.request_id[:100],
            **({"sts_ms": e.elapsed_ms} if f.step == Step.STS else {"invoke_ms": e.elapsed_ms}),
        )
        return
    inv = call.invocation
    # Tests queued before the paths were kept on the test read them from the version.
    extraction = extract(
        test if test.response_path or not test.version else test.version, inv.body, inv.headers
    )
    fields: dict[str, Any] = {
        "credentials_cached": call.assumed.cached,
        "sts_ms": call.assumed.elapsed_ms,
        "invoke_ms": inv.elapsed_ms,
        "http_status": inv.http_status,
        "request_id": inv.request_id[:100],
        "raw_response": inv.body[: settings.RAW_RESPONSE_LIMIT].decode("utf-8", errors="replace"),
        "raw_response_truncated": inv.truncated,
        "input_tokens": extraction.input_tokens,
        "output_tokens": extraction.output_tokens,
    }
    if extraction.text is None:
        _finish(
            test.pk,
            Status.FAILED,
            failed_step=Step.EXTRACT,
            error_code="NoOutputText",
            error_message=extraction.error,
            extraction_error=extraction.error,
            hint="Pick the text in the raw response below to set the Response path to it.",
            **fields,
        )
        return
    _finish(test.pk, Status.SUCCEEDED, extracted_text=extraction.text, **fields)


def _finish(test_id: int, status: str, **fields: Any) -> bool:
    return runs.finish(PromptTest, test_id, status, **fields)


def reap_stale_test(test_id: int) -> bool:
    """Fail the test if its worker died, or no worker took it in time."""
    return bool(runs.reap(PromptTest.objects.filter(pk=test_id), _finish))


# --- the Invoke API ----------------------------------------------------------------------


class InvokeError(Exception):
    def __init__(self, code: str, message: str, status: int, retry_after: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after


ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "NoPlatformCredentials",
        "RegionDisabledException",
        *aws.EXPIRED_TOKEN_CODES,
    }
)
THROTTLED = frozenset({*aws.THROTTLING_CODES, "ServiceQuotaExceededException"})
TIMED_OUT = frozenset(
    {"ConnectTimeout", "ReadTimeout", "ResponseTimeout", "ModelTimeoutException", "Timeout"}
)


def upstream_error(code: str, message: str) -> InvokeError:
    if code in ACCESS_DENIED:
        return InvokeError("upstream_access_denied", message, 502)
    if code in THROTTLED:
        return InvokeError("upstream_throttled", message, 503, retry_after=1)
    if code in TIMED_OUT:
        return InvokeError("upstream_timeout", message, 504)
    return InvokeError("upstream_error", message, 502)


# Calls run here so that the API can stop waiting at its own timeout, whatever botocore's is.
_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="prompt-invoke")


@dataclass(frozen=True)
class InvokeResult:
    text: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int
    version: int
    request_id: str


def invoke(prompt: Prompt, version: PromptVersion, values: dict[str, Any]) -> InvokeResult:
    """Render the version with the caller's values and call the model synchronously.

    Raises rendering.RenderError for bad values (before anything is sent) and InvokeError.
    """
    body = rendering.render(version.request_template, values).encode()
    session = _session_name(None, f"p{prompt.pk}", f"v{version.number}")
    timeout = settings.PROMPTS_INVOKE_TIMEOUT
    future = _pool.submit(call_model, prompt.integration, body, session, timeout)
    try:
        call = future.result(timeout=timeout)
    except FutureTimeout:
        future.cancel()
        raise InvokeError(
            "upstream_timeout", f"The model did not answer within {timeout:g} s.", 504
        ) from None
    except CallFailed as f:
        raise upstream_error(f.error.code, _public_message(f.error)) from None
    inv = call.invocation
    extraction = extract(version, inv.body, inv.headers)
    if extraction.text is None:
        raise InvokeError("upstream_error", extraction.error, 502)
    return InvokeResult(
        text=extraction.text,
        input_tokens=extraction.input_tokens,
        output_tokens=extraction.output_tokens,
        latency_ms=call.assumed.elapsed_ms + inv.elapsed_ms,
        version=version.number,
        request_id=inv.request_id,
    )


_ARN = re.compile(r"arn:[\w-]+:[\w-]+:[\w-]*:\d*:\S+")


def _public_message(e: aws.AwsCallFailed) -> str:
    # Callers are platform features, not admins: no role ARNs or account ids in their logs.
    return f"{e.code}: {_ARN.sub('<arn>', e.message)}"[:500]


runs.register(PromptTest, _finish)
