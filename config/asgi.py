"""The ASGI application: every page, and the live-update streams that hold no thread.

Run by gunicorn with uvicorn workers (Dockerfile, docker-compose.yml, ./console up).

Django gives each request a thread of its own for its sync parts (middleware), kept until the
response ends: for a Server-Sent Events stream that lasts minutes, that would be a thread per open
page. Requests for a live stream (config.live.PATH_SUFFIX) share one thread for their short sync
parts instead, and the stream itself waits in the event loop.

Other requests still get a thread of their own for their whole life, as Django wants, but the
thread is taken from those that earlier requests have finished with (as a threaded WSGI server
does) rather than started and stopped for each one: starting one cost about a tenth of an Invoke
API call's time in a profile.
"""

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

Receive = Callable[[], Awaitable[dict[str, Any]]]

# Django's ASGI handler reads a request's body whole (into a temporary file) before any view can
# refuse it. A body announced larger than this is not read at all (views refuse it by its
# Content-Length, as under WSGI); a chunked one is cut here (views see it is over their limit).
MAX_BODY_BYTES = 32 * 1024 * 1024


def _body_size(scope: dict[str, Any]) -> tuple[int | None, bool]:
    """The body's declared length (None if not given or not a number), and whether it is chunked."""
    length, chunked = None, False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            length = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


def limited(scope: dict[str, Any], receive: Receive) -> Receive:
    """`receive`, giving the handler at most MAX_BODY_BYTES of body, then only the disconnect.

    A body whose length is declared within the limit (the server reads no more than that), or a
    request with no body at all, is passed through as it is.
    """
    declared, chunked = _body_size(scope)
    if not chunked and (declared is None or declared <= MAX_BODY_BYTES):
        return receive
    state = {"read": 0, "done": False}

    async def limited_receive() -> dict[str, Any]:
        if state["done"]:
            while True:  # the rest of the body is dropped, unread by Django
                message = await receive()
                if message["type"] != "http.request":
                    return message
        if declared is not None and declared > MAX_BODY_BYTES:
            state["done"] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        message = await receive()
        if message["type"] == "http.request":
            state["read"] += len(message.get("body", b""))
            if state["read"] > MAX_BODY_BYTES:
                message = {**message, "more_body": False}
            if not message.get("more_body", False):
                state["done"] = True
        return message

    return limited_receive


# Threads kept for later requests once their request ends; more than this many idle are stopped.
IDLE_REQUEST_THREADS = 32


class RequestThread(ThreadPoolExecutor):
    """One thread, knowing whether work it was given is still running."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="request")
        self._count_lock = threading.Lock()
        self.unfinished = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        with self._count_lock:
            self.unfinished += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, future: Any) -> None:
        with self._count_lock:
            self.unfinished -= 1


class RequestThreads:
    """Single-thread executors, each lent to one request at a time and kept for the next."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._idle: list[RequestThread] = []
        self._lock = threading.Lock()

    def lend(self) -> RequestThread:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return RequestThread()

    def give_back(self, executor: RequestThread) -> None:
        # A view still running after its request ended (its task was cancelled, as when the
        # server stops) keeps its thread: the next request must not queue behind it.
        if executor.unfinished == 0:
            with self._lock:
                if len(self._idle) < self.keep:
                    self._idle.append(executor)
                    return
        executor.shutdown(wait=False)


class Handler(ASGIHandler):
    """Django's ASGI handler, running the middleware and the view in one hop to the request's
    thread.

    Django builds the middleware chain for ASGI around its async core: with the console's sync
    middleware, a request goes from the event loop to its thread (the outer middleware), back to
    the loop (the async-capable inner middleware), and to the thread again (the view), with a
    hand-over of the GIL and a wake-up each way. Here the chain is built as under WSGI, all
    sync, and called once on the request's thread; async views (the live streams) run there as
    Django runs them under WSGI, and a streamed answer is still sent from the event loop.
    """

    def __init__(self) -> None:
        super().__init__()
        self.load_middleware(is_async=False)
        self.live_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live")
        self.request_threads = RequestThreads(IDLE_REQUEST_THREADS)
        # Built once: the thread it runs on is chosen per call (the request's executor).
        self._respond = sync_to_async(self.respond, thread_sensitive=True)

    async def get_response_async(self, request: Any) -> Any:
        return await self._respond(request)

    def respond(self, request: Any) -> Any:
        """The response; a whole one (not streamed, not a file) is also closed here.

        Closing ends the request for Django (request_finished: the thread's database connection
        goes back to its pool). Django does it in a hop of its own to the request's thread once
        the response is sent; a whole response holds nothing that sending it needs, so it is
        closed in the same hop as the view, before it leaves, and `handle` does not hop again.
        """
        # Sent here, on the request's thread, as under WSGI: its receivers are sync (the database
        # connection's checks), and sent from the event loop they cost a hop of their own.
        signals.request_started.send(sender=self.__class__, scope=request.scope)
        response = self.get_response(request)
        if not response.streaming and not isinstance(response, FileResponse):
            response._handler_class = self.__class__  # type: ignore[attr-defined]  # as Django
            response.close()
        return response

    async def handle(self, scope, receive, send):  # type: ignore[no-untyped-def]
        """Django's ASGIHandler.handle, but request_started is sent by `respond` on the request's
        thread, and a response closed already (`respond`) is sent as it is: not closed again in
        another hop to the request's thread, and without a task listening for the client's
        disconnect (the view has run; only a streamed answer has anything left to stop)."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return

        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                await signals.request_started.asend(sender=self.__class__, scope=scope)
                body_file.close()
                await self.send_response(error_response, send)  # type: ignore[arg-type]
                await sync_to_async(error_response.close)()  # type: ignore[union-attr]
                return

            class RequestProcessed(Exception):
                pass

            response = await self.run_get_response(request)
            if response.closed:
                # A whole response, closed by `respond`: sent at once. Listening for the
                # client's disconnect (a task and an exception group per request) could only
                # stop the sending of bytes already in hand.
                await self.send_response(response, send)
                return
            try:
                try:
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self.listen_for_disconnect(receive))
                        await self.send_response(response, send)
                        raise RequestProcessed
                except* (RequestProcessed, RequestAborted):
                    pass
            except BaseExceptionGroup as exception_group:
                if len(exception_group.exceptions) == 1:
                    raise exception_group.exceptions[0]  # noqa: B904  # as Django does
                raise

            if not response.closed:
                await sync_to_async(response.close)()

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        from config.live import PATH_SUFFIX

        if scope["type"] == "http":
            receive = limited(scope, receive)
        if scope["type"] == "http" and scope["path"].endswith(PATH_SUFFIX):
            async with ThreadSensitiveContext(executor=self.live_executor):
                await self.handle(scope, receive, send)
            return
        if scope["type"] == "http":
            executor = self.request_threads.lend()
            try:
                async with ThreadSensitiveContext(executor=executor):
                    await self.handle(scope, receive, send)
            finally:
                self.request_threads.give_back(executor)
            return
        await super().__call__(scope, receive, send)


django.setup(set_prefix=False)
application = Handler()
