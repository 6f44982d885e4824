"""A prompt test's live stream: its status part, or the affected list's badge."""

import threading
import time

from django.db import connection
from django.utils import timezone

from config import live
from prompts_library.models import PromptTest
from tests.integrations.test_test_events import alice_http, events  # noqa: F401
from tests.prompts.fixtures import make_prompt


def queued_prompt_test(alice) -> PromptTest:
    prompt = make_prompt(alice)
    return PromptTest.objects.create(
        prompt=prompt, version=prompt.versions.get(), rendered_request="{}"
    )


def run_later(test: PromptTest, delay: float) -> threading.Thread:
    def move_on() -> None:
        time.sleep(delay)
        PromptTest.objects.filter(pk=test.pk).update(status="running", started=timezone.now())
        live.changed(PromptTest, test.pk)
        connection.close()

    thread = threading.Thread(target=move_on)
    thread.start()
    return thread


def test_it_sends_the_part_when_the_test_moves_on(alice_http, alice):  # noqa: F811
    test = queued_prompt_test(alice)
    mover = run_later(test, 0.3)
    [(name, html, elapsed)] = events(alice_http, f"/prompts/tests/{test.pk}/events/?seen=queued")
    mover.join()
    assert name == "status" and 0.25 < elapsed < 1.0
    assert 'data-status="running"' in html and 'class="test-status running"' in html
    assert f'sse-connect="/prompts/tests/{test.pk}/events/?seen=running"' in html


def test_the_compact_stream_sends_the_badge(alice_http, alice):  # noqa: F811
    test = queued_prompt_test(alice)
    mover = run_later(test, 0.1)
    url = f"/prompts/tests/{test.pk}/events/?seen=queued&compact=1"
    [(_, html, _)] = events(alice_http, url)
    mover.join()
    assert html.startswith(f'<span class="test-badge" id="prompt-test-badge-{test.pk}"')
    assert f"/prompts/tests/{test.pk}/events/?seen=running&amp;compact=1" in html
