"""Running the facade: `sandbox-agent mcp` on stdio, and the lazily built app mounted at /mcp on the server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send

from ..server.daemon import Daemon
from .backend import DeferredBackend, InProcessBackend, open_backend

log = logging.getLogger(__name__)


async def serve_mcp_stdio(
    daemon: Daemon | None,
    endpoint: str | None,
    token: str | None,
    attach_to: tuple[Path, list[str]] | None = None,
) -> None:
    """Serve MCP on stdio over a running server (`endpoint`), the state dir's daemon (`attach_to`), or a
    private in-process `daemon`."""
    backend = DeferredBackend()
    async with asyncio.TaskGroup() as group:
        # The daemon starts (another process) while this one imports the MCP SDK (~1 s) in a thread.
        group.create_task(backend.hold(open_backend(daemon, endpoint, token, attach_to)))
        build_server = await asyncio.to_thread(_import_facade)
        try:
            await build_server(backend).run_stdio_async()
        finally:
            backend.release()


def _import_facade() -> Any:
    from .facade import build_server

    return build_server


MISSING = "the MCP facade needs the mcp SDK: pip install 'sandbox-agent-py[mcp]'"


async def _missing_sdk(scope: Scope, receive: Receive, send: Send) -> None:
    from starlette.responses import JSONResponse

    body = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32060, "message": MISSING, "data": {"kind": "not_supported"}},
    }
    await JSONResponse(body, status_code=501)(scope, receive, send)


class LazyMcpApp:
    """ASGI app for /mcp that imports and starts the MCP SDK on first use (it costs ~1 s to import)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._app: Any = None
        self._stack = contextlib.AsyncExitStack()

    async def _build(self) -> Any:
        from mcp.server.transport_security import TransportSecuritySettings

        from .facade import build_server

        server = build_server(InProcessBackend(self.daemon))
        # The bearer token guards this route; the Host check would refuse every request behind a sandbox proxy.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        app = server.streamable_http_app(streamable_http_path="/mcp", transport_security=security)
        await self._stack.enter_async_context(server.session_manager.run())
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        if self._app is None:
            try:
                self._app = await self._build()
            except ImportError:
                await _missing_sdk(scope, receive, send)
                return
        await self._app(scope, receive, send)

    async def aclose(self) -> None:
        await self._stack.aclose()
