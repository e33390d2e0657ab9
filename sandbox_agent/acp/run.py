"""Running `sandbox-agent acp`: the ACP agent on stdio over a JSON-RPC backend — a running server (`endpoint`),
the state dir's daemon (`attach_to`), or a private daemon in this process — the same three as `sandbox-agent mcp`."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from ..mcp.backend import DeferredBackend, open_backend
from ..server.daemon import Daemon


async def serve_acp_stdio(
    daemon: Daemon | None,
    endpoint: str | None,
    token: str | None,
    attach_to: tuple[Path, list[str]] | None = None,
    default_agent: str = "mock",
) -> None:
    backend = DeferredBackend()
    async with asyncio.TaskGroup() as group:
        # As for MCP: the daemon starts while the ACP SDK is imported, and requests that need it wait for it.
        group.create_task(backend.hold(open_backend(daemon, endpoint, token, attach_to)))
        sdk = await asyncio.to_thread(_import_sdk)
        try:
            await _serve(backend, default_agent, *sdk)
        finally:
            backend.release()


def _import_sdk() -> tuple[Any, ...]:
    from acp.agent.connection import AgentSideConnection
    from acp.core import DEFAULT_STDIO_BUFFER_LIMIT_BYTES
    from acp.stdio import stdio_streams

    from .agent import SandboxAcpAgent
    from .transport import StdioTransport

    return AgentSideConnection, DEFAULT_STDIO_BUFFER_LIMIT_BYTES, stdio_streams, SandboxAcpAgent, StdioTransport


async def _serve(backend: DeferredBackend, default_agent: str, *sdk: Any) -> None:
    connection, limit, stdio_streams, agent_type, transport = sdk
    agent = agent_type(backend, default_agent)
    reader, writer = await stdio_streams(limit=limit)
    conn = connection(agent, transport(reader, writer), listening=False, use_unstable_protocol=True)
    try:
        await conn.listen()
    finally:
        await agent.close()
        with contextlib.suppress(Exception):
            await conn.close()
