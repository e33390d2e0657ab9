"""ACP's message transport on our stdin/stdout, strict about JSON-RPC.

The `acp` library skips a line it cannot parse and says nothing to the peer. A client that sends malformed ACP
gets the JSON-RPC answer here instead (-32700 for bad JSON, -32600 for something that is not a request), and the
server keeps reading.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
EOF_GRACE = 5.0


def _problem(msg: Any) -> str | None:
    if isinstance(msg, list):
        return "batches are not part of ACP; send one message per line"
    if not isinstance(msg, dict):
        return "a JSON-RPC message is a JSON object"
    if msg.get("jsonrpc") != "2.0":
        return 'missing "jsonrpc": "2.0"'
    if "method" in msg:
        if not isinstance(msg["method"], str):
            return "method must be a string"
        if "params" in msg and not isinstance(msg["params"], dict | list | None):
            return "params must be an object or an array"
        if ("id" in msg and not isinstance(msg["id"], str | int | None)) or isinstance(msg.get("id"), bool):
            return "id must be a string, a number or null"
        return None
    if "id" in msg and ("result" in msg or "error" in msg):
        return None
    return "neither a request, a notification nor a response"


class StdioTransport:
    """`acp._transport.Transport` over asyncio stdio streams, answering malformed input itself."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._lock = asyncio.Lock()
        self._unanswered: set[Any] = set()  # ids of requests received and not answered yet
        self._answered = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        if "method" not in message and message.get("id") in self._unanswered:
            self._unanswered.discard(message["id"])
            self._answered.set()
        async with self._lock:
            self.writer.write(orjson.dumps(message) + b"\n")
            await self.writer.drain()

    async def _error(self, request_id: Any, code: int, message: str) -> None:
        await self.send({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})

    async def receive(self) -> dict[str, Any] | None:
        while True:
            try:
                line = await self.reader.readline()
            except ValueError:  # longer than the reader's limit: drop it and say so
                await self._error(None, INVALID_REQUEST, "message too large")
                continue
            if not line:
                await self._drain_answers()
                return None
            if not line.strip():
                continue
            try:
                msg = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                await self._error(None, PARSE_ERROR, f"Parse error: {exc}")
                continue
            problem = _problem(msg)
            if problem is None:
                if "method" in msg and msg.get("id") is not None:
                    self._unanswered.add(msg["id"])
                return msg
            request_id = msg.get("id") if isinstance(msg, dict) and isinstance(msg.get("id"), str | int) else None
            await self._error(request_id, INVALID_REQUEST, f"Invalid Request: {problem}")

    async def _drain_answers(self, limit: float = EOF_GRACE) -> None:
        """At end of input, answer what was asked before it (a piped batch of requests), up to `limit` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while self._unanswered and loop.time() < deadline:
            self._answered.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), deadline - loop.time())

    async def close(self) -> None:
        self.writer.close()
