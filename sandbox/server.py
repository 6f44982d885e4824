"""The HTTP server: one ThreadingHTTPServer that speaks STS, Bedrock Runtime and /_sandbox/."""

from __future__ import annotations

import select
import socket
import socketserver
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import bedrock, control, sts
from .replies import (
    ApiError,
    Close,
    Drip,
    EventStreamReply,
    Hang,
    Outcome,
    Reply,
    SandboxRequest,
    StreamReply,
    json_reply,
)
from .state import SandboxState

__all__ = ["SandboxHandler", "SandboxServer", "SandboxState"]

MAX_BODY_BYTES = 26_000_000  # InvokeModel accepts 25,000,000; leave room for the envelope
_POLL_SECONDS = 0.2


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BedrockSandbox/1.0"
    # Headers and body go out in separate writes; without TCP_NODELAY a keep-alive client
    # would wait on delayed ACKs (~40 ms per request).
    disable_nagle_algorithm = True
    server: SandboxServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _handle(self) -> None:
        started = time.perf_counter()
        body = self._read_body()
        if body is None:
            return
        raw_path, _, raw_query = self.path.partition("?")
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        request = SandboxRequest(self.command, raw_path, raw_query, headers, body, started)
        try:
            outcome = self._route(request)
        except Exception:  # a sandbox bug must not kill the connection thread silently
            traceback.print_exc(file=sys.stderr)
            error = ApiError("InternalFailure", 500, "The Bedrock sandbox failed unexpectedly.")
            outcome = bedrock.error_reply(error, request.request_id)
        self._send(outcome)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._refuse(411, "chunked request bodies are not supported; send Content-Length")
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._refuse(400, "invalid Content-Length")
            return None
        if length > MAX_BODY_BYTES:
            self._refuse(413, f"request body over {MAX_BODY_BYTES} bytes")
            return None
        return self.rfile.read(length) if length else b""

    def _refuse(self, status: int, message: str) -> None:
        self.close_connection = True
        self._send_reply(json_reply(status, {"message": message}))

    def _route(self, request: SandboxRequest) -> Outcome:
        state = self.server.state
        if request.raw_path.startswith(control.PREFIX):
            return control.handle(request, state)
        if request.raw_path.startswith("/model/"):
            return bedrock.handle(request, state)
        if request.raw_path == "/" and request.method in ("GET", "POST"):
            return sts.handle(request, state)
        error = ApiError("UnknownOperationException", 404, f"Not found: {request.raw_path}")
        return bedrock.error_reply(error, request.request_id)

    # -- writing -----------------------------------------------------------------------------

    def _send(self, outcome: Outcome) -> None:
        try:
            if isinstance(outcome, Reply):
                self._send_reply(outcome)
            elif isinstance(outcome, StreamReply):
                self._send_stream(outcome)
            elif isinstance(outcome, EventStreamReply):
                self._send_event_stream(outcome)
            elif isinstance(outcome, Drip):
                self._send_drip(outcome)
            elif isinstance(outcome, Hang):
                self._hang(outcome.seconds)
            elif isinstance(outcome, Close):
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send_head(
        self, status: int, content_type: str, length: int, extra: dict[str, str]
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_reply(self, reply: Reply) -> None:
        self._send_head(reply.status, reply.content_type, len(reply.body), reply.headers)
        self.wfile.write(reply.body)

    def _send_stream(self, reply: StreamReply) -> None:
        self._send_head(reply.status, reply.content_type, reply.length, reply.headers)
        for chunk in reply.chunks():
            self.wfile.write(chunk)

    def _send_event_stream(self, reply: EventStreamReply) -> None:
        """Each frame as one HTTP chunk, written the moment the stream produces it."""
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        frames = reply.frames
        try:
            for frame in frames:
                if isinstance(frame, Close):
                    self.close_connection = True
                    return
                if frame:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception:  # a sandbox bug mid-stream: say so, and end the stream unfinished
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()  # a client that left mid-stream is recorded by the stream itself

    def _send_drip(self, drip: Drip) -> None:
        reply = drip.reply
        self._send_head(reply.status, reply.content_type, len(reply.body), reply.headers)
        state = self.server.state
        for index in range(len(reply.body)):
            self.wfile.write(reply.body[index : index + 1])
            self.wfile.flush()
            if index + 1 < len(reply.body) and state.wait(drip.interval_seconds):
                self.close_connection = True
                return

    def _hang(self, seconds: float) -> None:
        """Answer nothing until ``seconds`` pass, the client leaves, or the sandbox resets."""
        self.close_connection = True
        state = self.server.state
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if state.wait(min(_POLL_SECONDS, remaining)) or self._client_gone():
                return

    def _client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


class SandboxServer(ThreadingHTTPServer):
    """The emulator; ``SandboxServer(port=0).start()`` serves from a daemon thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state: SandboxState | None = None,
        *,
        verbose: bool = False,
    ) -> None:
        self.state = state if state is not None else SandboxState()
        self.verbose = verbose
        self._thread: threading.Thread | None = None
        super().__init__((host, port), SandboxHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can stall offline.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that time out or vanish mid-request are routine in fault tests; stay quiet.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError) and not self.verbose:
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), int(self.server_address[1])
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"bedrock-sandbox-{self.server_port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self.state.wake_all()
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
