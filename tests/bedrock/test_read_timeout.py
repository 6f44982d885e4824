"""A per-call read timeout bounds InvokeModel's HTTP call, so no thread outlives its caller."""

import threading
import time

import pytest

from bedrock import client, families, invoke, observe
from integrations import fallbacks
from prompts_library import services
from sandbox import DEMO_MODEL_ID
from tests.bedrock.test_client import BODY, assume
from tests.conftest import SANDBOX_URL


@pytest.mark.django_db
class TestReadTimeout:
    def test_a_hanging_model_ends_at_the_read_timeout(self, sandbox):
        creds = assume().credentials
        sandbox.state.add_fault("invoke", "hang", match="*", seconds=20, times=1)
        started = time.monotonic()
        with pytest.raises(client.AwsCallFailed) as e:
            client.invoke_model(
                SANDBOX_URL, DEMO_MODEL_ID, BODY, (), creds, keep_bytes=10, read_timeout=0.5
            )
        assert e.value.code == "ReadTimeout"
        assert time.monotonic() - started < 3

    def test_each_read_timeout_has_its_own_client(self, sandbox):
        creds = assume().credentials
        a = client.get_client("bedrock-runtime", SANDBOX_URL, creds, 0.5)
        b = client.get_client("bedrock-runtime", SANDBOX_URL, creds, None)
        assert a is not b
        assert a is client.get_client("bedrock-runtime", SANDBOX_URL, creds, 0.5)
        assert a.meta.config.read_timeout == 0.5
        assert b.meta.config.read_timeout == client.settings.AWS_READ_TIMEOUT

    def test_the_invoke_apis_timeout_frees_its_thread(self, alice, sandbox, settings, monkeypatch):
        from tests.prompts.fixtures import make_prompt

        settings.PROMPTS_INVOKE_TIMEOUT = 0.5
        prompt = make_prompt(alice)
        warm_up = (
            invoke.Options(session_name="warm-up"),
            observe.CallContext(observe.INVOKE_API, prompt.integration_id),
        )
        paths = families.ResponsePaths("content[0].text")
        assert services.call_model(prompt.integration, BODY, paths, *warm_up).ok  # cache creds
        sandbox.state.add_fault("invoke", "hang", match="*", seconds=20, times=1)
        ended = threading.Event()
        outcome = []
        real = fallbacks.serve  # the API's call: the prompt's model and its fallbacks

        def watched(*args, **kwargs):
            try:
                served = real(*args, **kwargs)
                outcome.append(served.result.error and served.result.error.code)
                return served
            finally:
                ended.set()

        monkeypatch.setattr(fallbacks, "serve", watched)
        started = time.monotonic()
        with pytest.raises(services.InvokeError) as e:
            services.invoke_prompt(
                prompt, prompt.published_version, {"question": "hi", "max_tokens": 5}
            )
        assert e.value.code == "upstream_timeout"
        # the pool's thread is not left waiting on the hanging socket for 20 s
        assert ended.wait(3), "the InvokeModel call outlived the API's timeout"
        assert outcome == ["ReadTimeout"]
        assert time.monotonic() - started < 3
