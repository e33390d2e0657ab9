"""Running the HTTP server: address and token policy, uvicorn settings tuned for this workload."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import sys
from collections.abc import Iterator
from typing import Any

from .app import MAX_MESSAGE, build_app
from .daemon import Daemon
from .uvicorn_core import uvicorn  # without uvicorn's command line (click, reload supervisors): ~20 ms, ~1.6 MB
from .ws_protocol import websocket_protocol

log = logging.getLogger(__name__)


class InsecureBind(ValueError):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, no_token: bool) -> None:
    """Never expose an open server by accident."""
    if token and no_token:
        raise InsecureBind("give either --token or --no-token, not both")
    if not token and not no_token and not is_loopback(host):
        raise InsecureBind(
            f"refusing to listen on {host} without a token: pass --token T (or SANDBOX_AGENT_TOKEN), "
            "or --no-token to run it open on purpose"
        )


def uvicorn_config(app: Any, host: str, port: int, log_level: str = "warning") -> uvicorn.Config:
    fast = sys.platform != "win32"
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if fast else "asyncio",
        http="httptools",
        ws=websocket_protocol,  # type: ignore[arg-type]  # a factory: uvicorn only calls it
        ws_max_size=MAX_MESSAGE,
        ws_per_message_deflate=False,  # measured: deflate costs ~20% throughput for little gain on loopback
        log_level=log_level,
        access_log=False,
        log_config=None,  # uvicorn logs through our handlers: one format (text or JSON), secrets scrubbed
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


async def start_http(
    daemon: Daemon,
    host: str,
    port: int,
    token: str | None,
    log_level: str = "warning",
    extra_routes: Any = None,
    extra_listener: bool = False,
) -> tuple[uvicorn.Server, asyncio.Future[Any]]:
    """Bind, start serving, and return once uvicorn is up (the daemon itself is started first).

    `extra_listener`: one more HTTP face of a daemon that is already running (`daemon/listen`); stopping it
    leaves the daemon and its signal handling alone."""
    await daemon.start()  # a state dir owned by another daemon fails here, before anything listens
    app = build_app(daemon, token, extra_routes, owns_daemon=not extra_listener)
    config = uvicorn_config(app, host, port, log_level)
    server = _ExtraListener(config) if extra_listener else uvicorn.Server(config)
    # Bind first so `--port 0` can say which port it got before anyone connects.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if not extra_listener:
        daemon.address["http"] = f"http://{shown}:{bound}"
    serve = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not serve.done():  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.005)
    if server.started:
        print(f"sandbox-agent listening on http://{shown}:{bound}", file=sys.stderr, flush=True)
    return server, serve


class _ExtraListener(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the daemon's own handlers stay in charge
        yield


async def serve_http(
    daemon: Daemon,
    host: str,
    port: int,
    token: str | None,
    log_level: str = "warning",
    extra_routes: Any = None,
) -> None:
    _, serve = await start_http(daemon, host, port, token, log_level, extra_routes)
    await serve
