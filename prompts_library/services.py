"""Versions, publishing, prompt tests and the Invoke API's model call. Views and tasks stay thin."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from audit import recorder
from bedrock import client, families, invoke, observe, policies
from integrations import fallbacks, runs
from integrations.models import BedrockModel
from prompts_library import apicache, rendering
from prompts_library import fallbacks as prompt_fallbacks
from prompts_library.models import Feature, Prompt, PromptTest, PromptVersion
from usage import recording as usage_recording

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


def _paths(source: PromptVersion | PromptTest) -> families.ResponsePaths:
    return families.ResponsePaths(
        source.response_path, source.input_tokens_path, source.output_tokens_path
    )


def call_model(
    integration: BedrockModel,
    body: bytes,
    paths: families.ResponsePaths,
    options: invoke.Options,
    context: observe.CallContext,
) -> invoke.Result:
    """Call the integration's model with the rendered body, read at the prompt's paths.

    The body is in the integration's request format: with Converse, the same prompt runs
    unchanged on models of every family, whose answers are read the same way (paths unused).
    """
    config = integration.configuration()
    request = invoke.Request(body, paths, format=config.request_format)
    return invoke.call(config, request, options, context)


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


def start_new_prompt_test(
    content: VersionContent, user: Any, integration: BedrockModel
) -> PromptTest:
    """Test the new prompt page's values on the chosen model, before the prompt exists."""
    return _start(None, None, content, user, integration)


def _content_of(version: PromptVersion) -> VersionContent:
    return VersionContent(
        request_template=version.request_template,
        response_path=version.response_path,
        input_tokens_path=version.input_tokens_path,
        output_tokens_path=version.output_tokens_path,
        samples=version.samples,
    )


def _start(
    prompt: Prompt | None,
    version: PromptVersion | None,
    content: VersionContent,
    user: Any,
    integration: BedrockModel | None,
) -> PromptTest:
    rendered = rendering.render_samples(content.request_template, content.samples or {})
    test = PromptTest(
        prompt=prompt,
        version=version,
        integration=integration
        if integration and (prompt is None or integration.pk != prompt.integration_id)
        else None,
        response_path=content.response_path,
        input_tokens_path=content.input_tokens_path,
        output_tokens_path=content.output_tokens_path,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        rendered_request=rendered,
    )
    runs.enqueue(test, _finish)
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
    # A test from the new prompt page has no prompt yet.
    session = _session_name(test.created_by, f"p{test.prompt_id or 'new'}", f"pt{test.pk}")
    # Tests queued before the paths were kept on the test read them from the version.
    source = test if test.response_path or not test.version else test.version
    result = call_model(
        integration,
        test.rendered_request.encode(),
        _paths(source),
        invoke.Options(session_name=session),
        observe.CallContext(
            observe.DRAFT_TEST if test.is_draft else observe.PROMPT_TEST,
            integration.pk,
            prompt_id=test.prompt_id,
            version_id=test.version_id,
            user_id=test.created_by_id,
            test_id=test.pk,
        ),
    )
    fields: dict[str, Any] = {
        "sts_ms": result.timings.sts_ms,
        "invoke_ms": result.timings.model_ms,
        "http_status": result.http_status,
        "request_id": result.request_id,
    }
    if result.credentials is not None:
        fields.update(
            credentials_cached=result.credentials.reused,
            credentials_assumed_at=result.credentials.assumed_at,
            assumed_role_arn=result.credentials.assumed_role_arn,
        )
    if result.raw_bytes is not None:
        fields.update(
            raw_response=result.raw.decode("utf-8", errors="replace"),
            raw_response_truncated=result.raw_truncated,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
        )
    error = result.error
    if error is None:
        _finish(test.pk, Status.SUCCEEDED, extracted_text=result.text or "", **fields)
        return
    if error.step == invoke.EXTRACT:
        fields["extraction_error"] = error.message
    _finish(
        test.pk,
        Status.FAILED,
        failed_step=error.step,
        error_code=error.code,
        error_message=error.message,
        hint=error.hint,
        **fields,
    )


def _finish(test_id: int, status: str, **fields: Any) -> bool:
    return runs.finish(PromptTest, test_id, status, **fields)


def reap_stale_test(test_id: int) -> bool:
    """Fail the test if its worker died, or no worker took it in time."""
    return bool(runs.reap(PromptTest.objects.filter(pk=test_id), _finish))


# --- the Invoke API ----------------------------------------------------------------------


class InvokeError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        retry_after: int | None = None,
        attempts: list[dict[str, Any]] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.attempts = attempts  # the integrations tried, when the call reached one


ACCESS_DENIED = client.ACCESS_DENIED_CODES
THROTTLED = frozenset({*client.THROTTLING_CODES, "ServiceQuotaExceededException"})
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


def failed_call(error: invoke.Error) -> InvokeError:
    """A failed model call as API callers see it (no role ARNs or account ids)."""
    if error.step == invoke.EXTRACT:
        return InvokeError("upstream_error", error.message, 502)
    return upstream_error(error.code, _public_message(error.code, error.message))


def timed_out(context: observe.CallContext) -> InvokeError:
    """The API stopped waiting: the record says timeout (the late call is not reported)."""
    timeout = settings.PROMPTS_INVOKE_TIMEOUT
    observe.notify(
        context,
        observe.CallOutcome(ok=False, error_code="upstream_timeout", total_ms=timeout * 1000),
    )
    return InvokeError("upstream_timeout", f"The model did not answer within {timeout:g} s.", 504)


# Streamed calls run here (the event loop sends each piece while the call goes on), and calls
# that may need STS first (so that the API stops waiting at its own timeout).
_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="prompt-invoke")


@dataclass(frozen=True)
class InvokeResult:
    text: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int
    version: int
    request_id: str
    served_by: str = ""  # the integration that answered (integrations.fallbacks.served_name)
    attempts: tuple[dict[str, Any], ...] = ()


def public_attempts(served: fallbacks.Served) -> list[dict[str, Any]]:
    """Every integration tried, in order, as API callers may see it (no ARNs, no account)."""
    return [
        {
            "integration": a.name,
            "ok": a.ok,
            "skipped": a.skipped,
            "error_code": a.error_code or None,
            "message": _public_message(a.error_code, a.message) if a.error_code else None,
            "http_status": a.http_status,
            "latency_ms": a.total_ms,
        }
        for a in served.attempts
    ]


def _held_serve(
    integration: BedrockModel,
    chain: tuple[BedrockModel, ...],
    request: invoke.Request,
    options: invoke.Options,
    context: observe.CallContext,
) -> tuple[fallbacks.Served, observe.Held]:
    with observe.held() as calls:
        served = fallbacks.serve(integration, request, options, context, chain)
    return served, calls


@dataclass(frozen=True)
class PreparedCall:
    """A prompt's model call with everything read from the database: ready to start anywhere.

    Its outcome is recorded (observe.deliver) by `finish`, which runs on the request's own
    thread and connection; the call itself runs there too (`run`), or on the pool when streamed
    (`start`).
    """

    integration: BedrockModel
    body: bytes
    paths: families.ResponsePaths
    session: str
    context: observe.CallContext
    version: int
    chain: tuple[BedrockModel, ...] = ()  # the fallbacks, in order

    def _arguments(self, on_text: Callable[[str], None] | None = None) -> tuple[Any, ...]:
        # The deadline bounds the whole call: every wait on the socket (the read timeout), the
        # body's read (against the wall clock) and the fallbacks after a failed attempt.
        options = invoke.Options(
            session_name=self.session, deadline_s=settings.PROMPTS_INVOKE_TIMEOUT, on_text=on_text
        )
        request = invoke.Request(
            self.body, self.paths, format=self.integration.configuration().request_format
        )
        return self.integration, self.chain, request, options, self.context

    def start(self, on_text: Callable[[str], None] | None = None) -> Future[Any]:
        """Start the call on the pool; with `on_text`, streamed, each piece handed on."""
        return _pool.submit(_held_serve, *self._arguments(on_text))

    def run(self) -> tuple[fallbacks.Served, observe.Held]:
        """Make the call on this thread."""
        return _held_serve(*self._arguments())

    def can_run_here(self) -> bool:
        """Whether every model the call may reach has its credentials at hand: then no STS call
        (bounded by the SDK's own timeouts, not the deadline) can be needed, and the deadline
        bounds every wait of the call."""
        return all(
            client.held_credentials(m.role_arn, m.external_id, m.sts_endpoint) is not None
            for m in (self.integration, *self.chain)
        )

    def timed_out(self) -> InvokeError:
        return timed_out(self.context)

    def finish(self, served: fallbacks.Served, calls: Any) -> InvokeResult:
        """Record the calls (one per attempt), then the answer, or raise InvokeError."""
        observe.deliver(calls)
        result = served.result
        attempts = public_attempts(served)
        if result.error is not None:
            failed = failed_call(result.error)
            failed.attempts = attempts
            raise failed
        return InvokeResult(
            text=result.text or "",
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            latency_ms=(result.timings.sts_ms or 0) + (result.timings.model_ms or 0),
            version=self.version,
            request_id=result.request_id,
            served_by=served.served_name,
            attempts=tuple(attempts),
        )


def prepare_invoke(
    prompt: Prompt, version: PromptVersion, values: dict[str, Any], token_id: int | None = None
) -> PreparedCall:
    """Render the version with the caller's values (rendering.RenderError for bad values)."""
    return PreparedCall(
        integration=prompt.integration,
        body=rendering.render(version.request_template, values).encode(),
        paths=_paths(version),
        session=_session_name(None, f"p{prompt.pk}", f"v{version.number}"),
        context=observe.CallContext(
            observe.INVOKE_API,
            prompt.integration_id,
            prompt_id=prompt.pk,
            version_id=version.pk,
            feature=prompt.feature.name,
            token_id=token_id,
            keep_bodies=usage_recording.keeping_days(prompt.pk) > 0,
        ),
        version=version.number,
        chain=tuple(prompt_fallbacks.chain_for(prompt)),
    )


def invoke_prompt(
    prompt: Prompt, version: PromptVersion, values: dict[str, Any], token_id: int | None = None
) -> InvokeResult:
    """Render the version with the caller's values and call the model synchronously.

    Raises rendering.RenderError for bad values (before anything is sent) and InvokeError.
    """
    call = prepare_invoke(prompt, version, values, token_id)
    if not call.can_run_here():
        # STS may be called: on the pool, so that the API stops waiting at its timeout.
        future = call.start()
        recorder.write_deferred()  # the token's use goes on record while the model answers
        try:
            served, calls = future.result(timeout=settings.PROMPTS_INVOKE_TIMEOUT)
        except FutureTimeout:
            future.cancel()
            raise call.timed_out() from None
        return call.finish(served, calls)
    recorder.write_deferred()  # the token's use goes on record before the model is called
    # On the request's own thread, as chat completions call it: the deadline bounds every wait
    # of the call (PreparedCall._arguments), and a hop to another thread and back cost about a
    # twentieth of the API's throughput.
    started = time.monotonic()
    served, calls = call.run()
    late = time.monotonic() - started >= settings.PROMPTS_INVOKE_TIMEOUT
    if served.result.error is not None and late:
        # The deadline ended it (the socket's wait or the body's read): the API's timeout,
        # recorded as one; the attempts' own outcomes are not reported.
        raise call.timed_out()
    # Recorded here, on the request's own thread and connection, before the answer is sent.
    return call.finish(served, calls)


_ARN = re.compile(r"arn:[\w-]+:[\w-]+:[\w-]*:\d*:\S+")


def _public_message(code: str, message: str) -> str:
    # Callers are platform features, not admins: no role ARNs or account ids in their logs.
    return f"{code}: {_ARN.sub('<arn>', message)}"[:500]


runs.register(PromptTest, _finish)
