"""Running `sandbox-agent acp`: the ACP agent on stdio over a JSON-RPC backend — a running server (`endpoint`),
the state dir's daemon (`attach_to`), or a private daemon in this process — the same three as `sandbox-agent mcp`."""

from __future__ import annotations

import contextlib
from pathlib import Path

from acp.agent.connection import AgentSideConnection
from acp.core import DEFAULT_STDIO_BUFFER_LIMIT_BYTES
from acp.stdio import stdio_streams

from ..mcp.backend import Backend, InProcessBackend, RemoteBackend
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
    backend: Backend
    client = None
    if endpoint:
        from ..client import SandboxAgent

        client = await SandboxAgent.connect(endpoint, token)
        backend = RemoteBackend(client)
    elif attach_to is not None:
        from ..client import SandboxAgent
        from ..client.transports import Transport, UnixTransport

        state_dir, args = attach_to

        async def attach() -> Transport:
            return await UnixTransport.attach(state_dir, args)

        client = SandboxAgent(attach, reconnect=True)
        await client._open()
        backend = RemoteBackend(client)
    else:
        assert daemon is not None
        await daemon.start()
        backend = InProcessBackend(daemon)
    agent = SandboxAcpAgent(backend, default_agent)
    try:
        reader, writer = await stdio_streams(limit=DEFAULT_STDIO_BUFFER_LIMIT_BYTES)
        conn = AgentSideConnection(agent, StdioTransport(reader, writer), listening=False, use_unstable_protocol=True)
        try:
            await conn.listen()
        finally:
            await agent.close()
            with contextlib.suppress(Exception):
                await conn.close()
    finally:
        if client is not None:
            await client.close()
        if daemon is not None and not endpoint and attach_to is None:
            await daemon.stop()
