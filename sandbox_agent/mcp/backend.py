"""How the MCP facade reaches a daemon: the daemon in this process, or a running server over WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import orjson

from ..rpc.dispatcher import _dump
from ..server.api import api
from ..server.client_context import ClientContext
from ..server.daemon import Daemon
from ..sessions.subscription import Subscription


class Backend(Protocol):
    async def call(self, method: str, params: dict[str, Any]) -> Any: ...

    def events(self, session_id: str, offset: int) -> AsyncIterator[dict[str, Any]]: ...


class InProcessBackend:
    """Calls the API dispatcher directly, exactly as a JSON-RPC client would (same validation, same errors)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        result = await api.call(method, params, ClientContext(self.daemon, None))
        return orjson.loads(orjson.dumps(_dump(result)))

    async def events(self, session_id: str, offset: int) -> AsyncIterator[dict[str, Any]]:
        session = await self.daemon.sessions.find(session_id)  # imports a session only the store has
        queue: asyncio.Queue[list[bytes] | None] = asyncio.Queue()

        async def deliver(_: str, bodies: list[bytes]) -> None:
            await queue.put(bodies)

        async def closed(*_: object) -> None:
            await queue.put(None)

        sub = Subscription(session.log, offset, deliver, closed, lambda: session.ended)
        sub.start()
        try:
            while (batch := await queue.get()) is not None:
                for body in batch:
                    yield orjson.loads(body)
        finally:
            await sub.cancel()


class RemoteBackend:
    """Drives a running `sandbox-agent server` through the Python client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        return await self.client.call(method, params)

    async def events(self, session_id: str, offset: int) -> AsyncIterator[dict[str, Any]]:
        async for event in self.client.events(session_id, offset):
            yield event.model_dump(mode="json", exclude_none=True)


class DeferredBackend:
    """A backend still being opened. A stdio facade serves `initialize` and its tool list at once and lets calls
    wait here: `claude -p` starts its first turn without waiting for MCP servers that are still connecting, and
    spawning the state dir's daemon takes as long as importing the MCP SDK, so the two now overlap."""

    def __init__(self) -> None:
        self._ready: asyncio.Future[Backend] = asyncio.get_running_loop().create_future()
        self._release = asyncio.Event()

    async def hold(self, opening: contextlib.AbstractAsyncContextManager[Backend]) -> None:
        """Open the backend, serve it until `release`, then close it. Fails like `open_backend` would."""
        async with opening as backend:
            self._ready.set_result(backend)
            await self._release.wait()

    def release(self) -> None:
        self._release.set()

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        return await (await asyncio.shield(self._ready)).call(method, params)

    async def events(self, session_id: str, offset: int) -> AsyncIterator[dict[str, Any]]:
        backend = await asyncio.shield(self._ready)
        async for event in backend.events(session_id, offset):
            yield event


def first_error(exc: BaseException) -> BaseException:
    """The error a task group failed with, so the CLI can report it as before (a group wraps it)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


@contextlib.asynccontextmanager
async def open_backend(
    daemon: Daemon | None,
    endpoint: str | None,
    token: str | None,
    attach_to: tuple[Path, list[str]] | None = None,
) -> AsyncIterator[Backend]:
    """The backend of a stdio facade (`mcp`, `acp`): a running server (`endpoint`), the state dir's daemon
    (`attach_to`), or a private in-process `daemon`, which it starts and stops."""
    from ..client import SandboxAgent

    if endpoint:
        client = await SandboxAgent.connect(endpoint, token)
    elif attach_to is not None:
        client = await SandboxAgent.attach(*attach_to)
    else:
        assert daemon is not None
        await daemon.start()
        try:
            yield InProcessBackend(daemon)
        finally:
            await daemon.stop()
        return
    try:
        yield RemoteBackend(client)
    finally:
        await client.close()
