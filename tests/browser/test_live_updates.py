"""The result of a test reaches the page over Server-Sent Events, and the page copes without."""

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from config import live
from integrations.models import ConnectionTest
from tests.browser.conftest import sign_in
from tests.browser.test_setup_flow import fill_step_2
from tests.integrations.fixtures import make_integration
from tests.integrations.test_test_status import queued_test

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def end_test(test: ConnectionTest) -> None:
    ConnectionTest.objects.filter(pk=test.pk).update(
        status="succeeded", output_text="Streamed home", finished=timezone.now()
    )
    live.changed(ConnectionTest, test.pk)


def test_each_step_of_a_test_arrives_on_its_own(page, alice, sandbox, celery_worker):
    sandbox.state.set_config(invoke_delay_ms=1500)
    integration = make_integration(tested=False)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    sign_in(page, "alice", "alice-password-long")
    page.goto(integration.get_absolute_url())
    page.get_by_role("button", name="Test", exact=True).click()  # never tested yet
    result = page.locator(".test-status")
    expect(result).to_have_attribute("data-status", "invoking")
    expect(page.locator(".progress li.current")).to_have_text("Invoking model")
    expect(result.get_by_role("heading", name="Success")).to_be_visible(timeout=15_000)
    expect(result).to_contain_text("Hello from the Bedrock sandbox")
    streams = [u for u in requests if "/events/" in u]
    assert streams and all("?seen=" in u for u in streams)
    assert not any("after=" in u for u in requests)
    assert page.csp_violations == []


def test_a_dropped_stream_reconnects_and_catches_up(page, alice, live_server):
    test = queued_test(make_integration(tested=False))
    sign_in(page, "alice", "alice-password-long")
    page.goto(f"/integrations/tests/{test.pk}/")
    expect(page.locator(".test-status")).to_have_attribute("data-status", "queued")
    page.wait_for_timeout(300)
    # The web server restarts: the stream drops, and the test ends meanwhile.
    live_server.stop()
    end_test(test)
    page.wait_for_timeout(1000)
    expect(page.locator(".test-status")).to_have_attribute("data-status", "queued")
    live_server.start()
    # The browser reconnects by itself, and the stream starts from the stored row.
    expect(page.get_by_role("heading", name="Success")).to_be_visible(timeout=20_000)
    expect(page.locator(".output")).to_have_text("Streamed home")


def test_without_javascript_the_page_shows_the_stored_state(browser, live_server, alice):
    test = queued_test(make_integration(tested=False))
    ConnectionTest.objects.filter(pk=test.pk).update(status="assuming_role")
    connection.close()
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, "alice", "alice-password-long")
    page.goto(f"/integrations/tests/{test.pk}/")
    expect(page.get_by_role("status")).to_contain_text("Assuming role")
    end_test(test)
    page.get_by_role("link", name="Refresh").click()
    expect(page.get_by_role("heading", name="Success")).to_be_visible()
    context.close()


def test_a_streamed_test_shows_the_text_as_it_arrives(page, alice, sandbox, celery_worker):
    sandbox.state.set_config(stream_interval_ms=250)
    sign_in(page, "alice", "alice-password-long")
    page.goto("/integrations/new/")
    fill_step_2(page)
    expect(page.get_by_label("Stream")).to_be_checked()
    page.get_by_role("button", name="Test").click()
    streaming = page.locator("#test-result .output.streaming")
    expect(streaming).to_contain_text("Hello")
    first = streaming.inner_text()
    expect(streaming).not_to_have_text(first)  # more words arrived
    expect(page.locator(".stream-facts")).to_contain_text("First token after")
    result = page.locator("#test-result")
    expect(result.get_by_role("heading", name="Success")).to_be_visible(timeout=20_000)
    expect(result).to_contain_text("Hello from the Bedrock sandbox. You said: Hi")
    expect(result).to_contain_text("Time to first token")
    expect(result).to_contain_text("Tokens per second")
    expect(page.get_by_role("button", name="Save")).to_be_enabled()
    assert page.csp_violations == []
