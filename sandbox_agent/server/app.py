"""The HTTP face of the daemon (Starlette): WebSocket and POST JSON-RPC, health, SSE of one session, the Inspector."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import __version__
from ..rpc.connection import Connection
from ..rpc.dispatcher import encode_error
from ..rpc.errors import AppError, RpcError
from ..schema.errors import ErrorKind
from ..sessions.subscription import Subscription
from ..ui import ui_routes
from .api import api
from .auth import SUBPROTOCOL, TokenAuth
from .client_context import ClientContext
from .daemon import Daemon
from .host_routes import host_routes
from .ws_protocol import SEND_TEXTS

log = logging.getLogger(__name__)

MAX_MESSAGE = 16 * 1024 * 1024
SSE_HEARTBEAT = 15.0


def _json(data: bytes, status: int = 200) -> Response:
    return Response(data, status_code=status, media_type="application/json")


def _store_health(daemon: Daemon) -> dict[str, Any]:
    """Only state and lag: /v1/health answers without a token, so no error text or ids."""
    status = daemon.store_status()
    if status is None:
        return {}
    return {"store": {k: status[k] for k in ("state", "lag_rows", "lag_seconds", "snapshots_pending")}}


def build_app(
    daemon: Daemon, token: str | None, extra_routes: list[Any] | None = None, owns_daemon: bool = True
) -> Any:
    """The HTTP app. `owns_daemon=False` for an extra listener of a running daemon: its shutdown stops only it."""

    async def health(request: Request) -> Response:
        started = daemon.manager is not None
        return JSONResponse(
            {
                "status": "ok" if started else "starting",
                "version": __version__,
                "sessions": daemon.sessions.count() if started else 0,
                "journal": daemon.journal_status(),
                "auth": "bearer" if token else "none",  # lets the Inspector ask for a token before any 401
                **_store_health(daemon),
            }
        )

    async def metrics(request: Request) -> Response:
        from ..ops import stats

        if not stats.STATS.enabled:
            return _json(b'{"error":"metrics are off (SANDBOX_AGENT_METRICS=off)"}', 404)
        from ..ops.metrics import render  # prometheus-client is imported on the first scrape only

        body, content_type = render(daemon)
        return Response(body, media_type=content_type)

    async def rpc_post(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_MESSAGE:
            err = AppError(ErrorKind.MESSAGE_TOO_LARGE, f"request of {length} bytes exceeds {MAX_MESSAGE}")
            return _json(encode_error(None, err), 413)
        body = await request.body()
        reply = await api.handle_bytes(body, ClientContext(daemon, None))
        return Response(status_code=204) if reply is None else _json(reply)

    async def rpc_ws(websocket: WebSocket) -> None:
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)

        send_texts = websocket.scope.get("extensions", {}).get(SEND_TEXTS)  # ws_protocol.py: one write for many

        async def send_many(frames: list[bytes]) -> None:
            if send_texts is not None:
                try:
                    if await send_texts(frames):
                        return
                except OSError:  # the client is gone: what Starlette's own send raises then
                    raise WebSocketDisconnect(code=1006) from None
            for frame in frames:
                await websocket.send_text(frame.decode())

        async def send(data: bytes) -> None:
            await send_many([data])

        ctx = ClientContext(daemon, None, send_many)
        conn = Connection(send, api, ctx)
        ctx.connection = conn
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                conn.receive(data)
        except WebSocketDisconnect:
            pass
        finally:
            await ctx.close()
            await conn.close()

    async def events_sse(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        try:
            session = await daemon.sessions.find(session_id)  # a session only the store has is imported
            offset = int(request.headers.get("last-event-id") or request.query_params.get("offset") or 0)
            if offset < 0 or offset > session.log.last_seq:
                raise AppError(ErrorKind.INVALID_OFFSET, f"offset {offset} is out of range 0..{session.log.last_seq}")
        except ValueError:
            return _json(encode_error(None, AppError(ErrorKind.INVALID_OFFSET, "offset must be an integer")), 400)
        except RpcError as exc:
            status = 404 if exc.kind == "session_not_found" else 400
            return _json(encode_error(None, exc), status)
        return StreamingResponse(
            _sse_stream(session, offset),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    from ..mcp.run import LazyMcpApp

    mcp_app = LazyMcpApp(daemon)
    routes: list[Any] = [
        Route("/v1/health", health, methods=["GET"]),
        Route("/v1/metrics", metrics, methods=["GET"]),
        Route("/v1/rpc", rpc_post, methods=["POST"]),
        WebSocketRoute("/v1/rpc", rpc_ws),
        Route("/v1/sessions/{session_id}/events/sse", events_sse, methods=["GET"]),
        Route("/mcp", mcp_app),
        *host_routes(daemon),
        *ui_routes(),
        *(extra_routes or []),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await daemon.start()  # a no-op when the caller started it already
        try:
            yield
        finally:
            await mcp_app.aclose()
            if owns_daemon:
                await daemon.stop()

    app: Any = TokenAuth(Starlette(routes=routes, lifespan=lifespan), token)
    origins = list(getattr(daemon, "cors_allow_origins", None) or [])
    if origins:  # outside the auth: a browser's preflight never carries the token
        app = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "OPTIONS"],
            allow_headers=["authorization", "content-type", "last-event-id"],
            max_age=600,
        )
    return app


async def _sse_stream(session: Any, offset: int) -> AsyncIterator[bytes]:
    """Each event as `id: <sequence>` + `data: <event>`; a comment line every 15 s keeps proxies open."""
    queue: asyncio.Queue[list[bytes] | None] = asyncio.Queue(maxsize=1)

    async def deliver(_: str, bodies: list[bytes]) -> None:
        await queue.put(bodies)

    async def closed(_: str, reason: str, resume_offset: int) -> None:
        await queue.put(None)

    sub = Subscription(session.log, offset, deliver, closed, lambda: session.ended)
    sub.start()
    try:
        yield b": connected\n\n"
        while True:
            try:
                bodies = await asyncio.wait_for(queue.get(), SSE_HEARTBEAT)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            if bodies is None:
                return
            chunks = []
            for body in bodies:
                offset += 1  # batches arrive in order, gap-free, starting right after the offset
                chunks.append(b"id: %d\ndata: %s\n\n" % (offset, body))
            yield b"".join(chunks)
    finally:
        await sub.cancel()
