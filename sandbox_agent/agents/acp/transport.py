"""The ACP library's message transport over our supervised agent process.

The `agent-client-protocol` package reads stdio itself and silently skips lines that are not JSON. We feed it
from `AgentProcess` instead (process group, die-with-parent, stderr head/tail, one line splitter for every
adapter) so that a line that is not a JSON-RPC message is reported to the adapter, which ends the session
cleanly rather than waiting forever on an answer that will not come.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from ...rpc.framing import Line, OversizedLine
from ..process import AgentProcess


def malformed_reason(msg: Any) -> str | None:
    """Why a decoded line is not a JSON-RPC 2.0 message (None when it is one)."""
    if not isinstance(msg, dict):
        return "not a JSON object"
    if msg.get("jsonrpc") != "2.0":
        return "missing jsonrpc: 2.0"
    if "method" not in msg and "id" not in msg:
        return "neither a request, a notification nor a response"
    return None


class ProcessTransport:
    """`acp._transport.Transport` (send/receive/close) over one agent process's stdin/stdout."""

    def __init__(self, on_malformed: Callable[[str, bytes], None]) -> None:
        self.proc: AgentProcess | None = None
        self._inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._on_malformed = on_malformed

    def on_line(self, line: Line) -> None:
        if isinstance(line, OversizedLine):
            self._on_malformed(f"{line.size}-byte line dropped", b"")
            return
        if not line.strip():
            return
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            self._on_malformed(f"invalid JSON: {exc}", bytes(line[:200]))
            return
        reason = malformed_reason(msg)
        if reason is not None:
            self._on_malformed(reason, bytes(line[:200]))
            return
        self._inbox.put_nowait(msg)

    def eof(self) -> None:
        self._inbox.put_nowait(None)

    async def send(self, message: dict[str, Any]) -> None:
        if self.proc is None:
            raise ConnectionError("the agent process is not running")
        try:
            await self.proc.write_line(orjson.dumps(message))
        except ConnectionError:
            # The agent is gone. Requests still waiting are failed by the EOF that follows its exit; an answer to
            # one of its own requests has no reader left, so it is dropped here instead of logged as a failure.
            if "method" in message:
                raise

    async def receive(self) -> dict[str, Any] | None:
        return await self._inbox.get()

    async def close(self) -> None:
        self.eof()
