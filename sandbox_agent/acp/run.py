"""Running `sandbox-agent acp`: the ACP agent on stdio over a JSON-RPC backend — a running server (`endpoint`),
the state dir's daemon (`attach_to`), or a private daemon in this process — the same three as `sandbox-agent mcp`."""

from __future__ import annotations

import contextlib
from pathlib import Path

from acp.agent.connection import AgentSideConnection
from acp.core import DEFAULT_STDIO_BUFFER_LIMIT_BYTES
from acp.stdio import stdio_streams

from ..mcp.backend import open_backend
from ..server.daemon import Daemon
from .agent import SandboxAcpAgent
from .transport import StdioTransport


async def serve_acp_stdio(
    daemon: Daemon | None,
    endpoint: str | None,
    token: str | None,
    attach_to: tuple[Path, list[str]] | None = None,
    default_agent: str = "mock",
) -> None:
    async with open_backend(daemon, endpoint, token, attach_to) as backend:
        agent = SandboxAcpAgent(backend, default_agent)
        reader, writer = await stdio_streams(limit=DEFAULT_STDIO_BUFFER_LIMIT_BYTES)
        conn = AgentSideConnection(agent, StdioTransport(reader, writer), listening=False, use_unstable_protocol=True)
        try:
            await conn.listen()
        finally:
            await agent.close()
            with contextlib.suppress(Exception):
                await conn.close()
