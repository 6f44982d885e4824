"""``python -m sandbox``: run the STS + Bedrock Runtime emulator in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from . import DEFAULT_PORT
from .server import SandboxServer
from .state import SandboxState


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Local emulator of Amazon STS and Bedrock Runtime that verifies SigV4.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--invoke-delay-ms", type=int, default=0, metavar="MS")
    parser.add_argument("--sts-delay-ms", type=int, default=0, metavar="MS")
    parser.add_argument(
        "--stream-interval-ms",
        type=int,
        default=0,
        metavar="MS",
        help="pause between the events of a streamed answer (word by word)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    state = SandboxState(
        invoke_delay_ms=args.invoke_delay_ms,
        sts_delay_ms=args.sts_delay_ms,
        stream_interval_ms=args.stream_interval_ms,
    )
    server = SandboxServer(args.host, args.port, state, verbose=args.verbose)
    signal.signal(signal.SIGTERM, _terminate)
    print(f"sandbox listening on {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        state.wake_all()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
