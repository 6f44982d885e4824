"""Cooldowns: shared by every process through Redis, ended early by the health canary, and
harmless when Redis is down or absent (the embedded default)."""

import json
import subprocess
import sys

import pytest
from django.core.cache import cache

from bedrock import invoke, observe
from integrations import cooldown, services
from integrations.models import ConnectionTest
from tests.conftest import ROOT, wait_for_test
from tests.fallbacks.helpers import FALLBACK_MODEL, PRIMARY_MODEL, calls_of, chained, fail

# Serves the integration once in a process of its own and prints the attempts.
SERVE_ONCE = """
import json, sys, django
django.setup()
from bedrock import invoke, observe
from integrations import services
from integrations.models import BedrockModel
primary = BedrockModel.objects.get(pk=int(sys.argv[1]))
config = primary.configuration()
served = services.serve(
    primary,
    invoke.Request(config.request_json.encode(), format=config.request_format),
    invoke.Options(session_name="second-process"),
    observe.CallContext(observe.INVOKE_API, primary.pk),
)
print(json.dumps([[a.key, a.error_code, a.skipped] for a in served.attempts]))
"""


@pytest.fixture(autouse=True)
def _cooldown_settings(settings):
    settings.AWS_MAX_ATTEMPTS = 1
    settings.FALLBACK_FAILURES_BEFORE_COOLDOWN = 2
    settings.FALLBACK_COOLDOWN_SECONDS = 300


def serve(integration):
    config = integration.configuration()
    return services.serve(
        integration,
        invoke.Request(config.request_json.encode(), format=config.request_format),
        invoke.Options(session_name="cooldown-test"),
        observe.CallContext(observe.INVOKE_API, integration.pk),
    )


def cool_down(sandbox, primary, fallback):
    """Throttle the primary until it cools down (each call served by the fallback)."""
    fail(sandbox, PRIMARY_MODEL)
    for _ in range(2):
        assert serve(primary).served_by == fallback
    assert cooldown.state_of(primary.pk).cooling_until is not None
    sandbox.state.clear_faults()


@pytest.mark.django_db(transaction=True)
class TestCooldown:
    def test_a_second_process_skips_a_primary_that_cooled_down_here(self, sandbox, worker_env):
        primary, fallback = chained()
        cool_down(sandbox, primary, fallback)
        run = subprocess.run(
            [sys.executable, "-c", SERVE_ONCE, str(primary.pk)],
            cwd=ROOT,
            # A busy machine must not make this process think Redis is down (it would fail open).
            env={**worker_env, "REDIS_TIMEOUT": "5"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        attempts = json.loads(run.stdout.strip().splitlines()[-1])
        assert attempts == [[str(primary.pk), "CoolingDown", True], [str(fallback.pk), "", False]]
        assert calls_of(sandbox, PRIMARY_MODEL) == 2  # the second process did not call it

    def test_an_answer_resets_the_count(self, sandbox):
        primary, _ = chained()
        fail(sandbox, PRIMARY_MODEL, times=1)
        serve(primary)
        assert cooldown.state_of(primary.pk).failures == 1
        assert serve(primary).served_by == primary
        assert cooldown.state_of(primary.pk) == cooldown.State(0, None)

    def test_after_its_cooldown_one_more_failure_cools_it_down_again(self, sandbox, settings):
        primary, fallback = chained()
        cool_down(sandbox, primary, fallback)
        # The cooldown ends; the count of failures in a row stays.
        cache.delete(f"fallback:until:{primary.pk}")
        assert cooldown.state_of(primary.pk) == cooldown.State(2, None)
        fail(sandbox, PRIMARY_MODEL, times=1)
        assert serve(primary).served_by == fallback
        assert cooldown.state_of(primary.pk).cooling_until is not None

    def test_every_member_cooling_down_tries_the_first_anyway(self, sandbox):
        primary, fallback = chained()
        cool_down(sandbox, primary, fallback)
        for _ in range(2):
            cooldown.store.failed(str(fallback.pk))
        served = serve(primary)
        assert served.served_by == primary
        assert [(a.key, a.skipped) for a in served.attempts] == [(str(primary.pk), False)]

    @pytest.mark.worker
    def test_a_successful_canary_brings_it_back_early(self, sandbox, celery_worker):
        primary, fallback = chained()
        cool_down(sandbox, primary, fallback)
        services.run_canary()
        for pk in ConnectionTest.objects.filter(kind="canary").values_list("pk", flat=True):
            assert wait_for_test(pk).succeeded
        assert cooldown.state_of(primary.pk) == cooldown.State(0, None)
        assert serve(primary).served_by == primary

    @pytest.mark.worker
    def test_a_failing_canary_leaves_it_cooling_down(self, sandbox, celery_worker):
        primary, fallback = chained()
        cool_down(sandbox, primary, fallback)
        fail(sandbox, PRIMARY_MODEL)
        services.run_canary()
        for pk in ConnectionTest.objects.filter(kind="canary").values_list("pk", flat=True):
            wait_for_test(pk)
        assert cooldown.state_of(primary.pk).cooling_until is not None


@pytest.mark.django_db
class TestWithoutRedis:
    def test_with_redis_down_every_member_is_tried_and_nothing_fails(self, sandbox, redis_down):
        primary, fallback = chained()
        redis_down()
        fail(sandbox, PRIMARY_MODEL)
        for _ in range(3):
            served = serve(primary)
            assert served.served_by == fallback
            assert [a.skipped for a in served.attempts] == [False, False]
        assert calls_of(sandbox, PRIMARY_MODEL) == 3  # never skipped: fail open
        assert cooldown.state_of(primary.pk) == cooldown.State(0, None)

    def test_the_embedded_file_cache_keeps_cooldowns(self, sandbox, settings, tmp_path):
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path / "cache"),
            }
        }
        primary, fallback = chained()
        cool_down(sandbox, primary, fallback)
        served = serve(primary)
        assert [a.error_code for a in served.attempts] == ["CoolingDown", ""]
        assert calls_of(sandbox, FALLBACK_MODEL) == 3


class TestAnswersWithNothingToEnd:
    """A call that found no count and no cooldown sends nothing to the cache when it answers;
    one that found either still ends them, as does the health canary whatever was read."""

    @pytest.fixture(autouse=True)
    def _clear(self):
        cooldown.reset(7)
        yield
        cooldown.reset(7)

    def test_a_clear_candidate_answers_without_a_write(self, monkeypatch):
        store = cooldown.Store()
        store.cooling_until("7")
        deleted = []
        monkeypatch.setattr(cache, "delete_many", lambda keys: deleted.append(keys))
        store.succeeded("7")
        assert deleted == []

    def test_a_count_read_before_the_call_is_ended_by_its_answer(self):
        store = cooldown.Store()
        store.failed("7")
        store.cooling_until("7")
        store.succeeded("7")
        assert cooldown.state_of(7) == cooldown.State(0, None)

    def test_a_failure_between_the_read_and_the_answer_is_ended_too(self):
        store = cooldown.Store()
        store.cooling_until("7")
        store.failed("7")  # this thread's own: its next answer must end the count
        store.succeeded("7")
        assert cooldown.state_of(7) == cooldown.State(0, None)

    def test_the_canary_ends_a_cooldown_this_thread_read_as_clear(self, settings):
        store = cooldown.store
        store.cooling_until("7")
        for _ in range(settings.FALLBACK_FAILURES_BEFORE_COOLDOWN):
            cooldown.Store().failed("7")  # elsewhere
        assert cooldown.state_of(7).cooling_until is not None
        cooldown.reset(7)
        assert cooldown.state_of(7) == cooldown.State(0, None)
