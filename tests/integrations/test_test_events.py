"""The live status stream: Server-Sent Events from an async view, served over ASGI."""

import asyncio
import concurrent.futures
import threading
import time

import httpx
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from httpx_sse import aconnect_sse, connect_sse

from config import live
from integrations import services
from integrations.models import ConnectionTest
from tests.conftest import wait_for_test
from tests.integrations.fixtures import make_integration
from tests.integrations.test_test_status import queued_test


def session_cookies(client, user) -> dict[str, str]:
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return {name: client.cookies[name].value}


@pytest.fixture
def alice_http(live_server, client, alice):
    with httpx.Client(
        base_url=live_server.url, cookies=session_cookies(client, alice), timeout=20
    ) as http:
        yield http


def events(http: httpx.Client, url: str) -> list[tuple[str, str, float]]:
    """Every event of one stream (until the server ends it): (name, data, seconds since start)."""
    started = time.monotonic()
    with connect_sse(http, "GET", url) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [
            (e.event, e.data, time.monotonic() - started)
            for e in source.iter_sse()
            if e.data  # httpx-sse hands the `retry:` field on as an empty event; browsers don't
        ]


def move_on_later(test: ConnectionTest, status: str, delay: float) -> threading.Thread:
    def move_on() -> None:
        time.sleep(delay)
        ConnectionTest.objects.filter(pk=test.pk).update(status=status, started=timezone.now())
        live.changed(ConnectionTest, test.pk)
        connection.close()

    thread = threading.Thread(target=move_on)
    thread.start()
    return thread


@pytest.mark.parametrize("feed", ["redis", "embedded"])
def test_it_sends_the_part_as_soon_as_the_status_changes(alice_http, settings, monkeypatch, feed):
    if feed == "embedded":
        settings.REDIS_URL = ""  # no pub/sub: the stream looks at the row by itself
    else:
        # Only a Redis message can wake the stream in time.
        monkeypatch.setattr(live, "LIVE_POLL_SECONDS", 5.0)
        monkeypatch.setattr(live, "LIVE_SAFETY_SECONDS", 5.0)
    test = queued_test(make_integration(tested=False))
    mover = move_on_later(test, "assuming_role", 0.3)
    got = events(alice_http, f"/integrations/tests/{test.pk}/events/?seen=queued")
    mover.join()
    assert [name for name, _, _ in got] == ["status"]
    _, html, elapsed = got[0]
    assert 0.25 < elapsed < 1.0
    assert 'data-status="assuming_role"' in html
    assert f'sse-connect="/integrations/tests/{test.pk}/events/?seen=assuming_role"' in html


def test_a_page_that_reconnects_catches_up_from_the_stored_row(alice_http):
    integration = make_integration()  # its test already succeeded
    got = events(alice_http, f"/integrations/tests/{integration.last_test.pk}/events/?seen=queued")
    assert len(got) == 1 and got[0][2] < 1.0
    html = got[0][1]
    assert "Success" in html and "sse-connect" not in html


def test_the_form_s_stream_carries_the_save_button(alice_http):
    integration = make_integration()
    url = f"/integrations/tests/{integration.last_test.pk}/events/?seen=invoking&for_form=1"
    [(_, html, _)] = events(alice_http, url)
    assert 'id="save-button"' in html


def test_the_stream_carries_what_the_page_updates_with_the_test(alice_http):
    integration = make_integration()
    test = integration.last_test
    [(_, html, _)] = events(alice_http, f"/integrations/tests/{test.pk}/events/?seen=x&on=detail")
    assert f'id="badge-{integration.pk}" class="badge ok" hx-swap-oob="true"' in html
    assert 'id="test-history" hx-swap-oob="true"' in html
    [(_, row, _)] = events(alice_http, f"/integrations/tests/{test.pk}/events/?seen=x&on=home")
    assert row.lstrip().startswith(f'<tr id="integration-{integration.pk}">')


@pytest.mark.worker
def test_a_test_run_by_the_worker_reaches_the_page_step_by_step(
    alice_http, alice, celery_worker, sandbox
):
    integration = make_integration(tested=False)
    test = services.start_test(integration.configuration(), alice, integration)
    seen, statuses = "queued", []
    while True:
        got = events(alice_http, f"/integrations/tests/{test.pk}/events/?seen={seen}")
        assert len(got) == 1
        seen = got[0][1].split('data-status="')[1].split('"')[0]
        statuses.append(seen)
        if "sse-connect" not in got[0][1]:
            break
    assert statuses[-1] == "succeeded"
    assert "Success" in got[0][1]
    assert wait_for_test(test.pk).status == "succeeded"


def test_open_streams_hold_no_thread(live_server, client, alice):
    tests = [queued_test(make_integration(name=f"Model {i}", tested=False)) for i in range(40)]
    cookies = session_cookies(client, alice)
    before = threading.active_count()
    opened = []

    async def watch(http: httpx.AsyncClient, test: ConnectionTest) -> str:
        url = f"/integrations/tests/{test.pk}/events/?seen=queued"
        async with aconnect_sse(http, "GET", url) as source:
            opened.append(test.pk)
            async for event in source.aiter_sse():
                if event.data:
                    return event.data
        return ""

    def advance() -> None:
        for t in tests:
            ConnectionTest.objects.filter(pk=t.pk).update(status="assuming_role")
            live.changed(ConnectionTest, t.pk)
        connection.close()

    async def main() -> tuple[int, list[str]]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(
            base_url=live_server.url, cookies=cookies, timeout=30, limits=limits
        ) as http:
            watchers = [asyncio.create_task(watch(http, t)) for t in tests]
            while len(opened) < len(tests):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            during = threading.active_count()
            await asyncio.to_thread(advance)
            return during, await asyncio.gather(*watchers)

    # In a thread of its own: a browser test of this session may hold this thread's event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as runner:
        during, parts = runner.submit(asyncio.run, main()).result()
    # 40 open streams; the ASGI server's threads: at most the loop's small shared pool and one
    # for the streams' middleware, whatever the number of streams.
    assert during - before <= 10
    assert all('data-status="assuming_role"' in part for part in parts)


class TestAccess:
    def test_a_signed_out_visitor_is_sent_to_sign_in(self, live_server, db):
        test = queued_test(make_integration(tested=False))
        r = httpx.get(f"{live_server.url}/integrations/tests/{test.pk}/events/?seen=queued")
        assert r.status_code == 302 and "/accounts/login/" in r.headers["location"]

    def test_a_user_without_a_role_is_refused(self, live_server, client, charlie):
        test = queued_test(make_integration(tested=False))
        url = f"{live_server.url}/integrations/tests/{test.pk}/events/?seen=queued"
        r = httpx.get(url, cookies=session_cookies(client, charlie))
        assert r.status_code == 403

    def test_an_unknown_test_is_not_found(self, alice_http):
        assert alice_http.get("/integrations/tests/999999/events/").status_code == 404
