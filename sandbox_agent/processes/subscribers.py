"""Connection-scoped `processes/subscribe` subscribers: a bounded queue and one sender task each.

A slow or gone client never slows a process down: its queue fills, the subscription closes with reason
`overflow` (or silently when the connection is gone) and the process runs on; `processes/output {offset}`
fetches what it missed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from typing import Any

import orjson

from ..rpc.connection import Connection
from .output import Chunk

QUEUE_LIMIT = 4096


def encode(data: bytes, encoding: str) -> str:
    return base64.b64encode(data).decode() if encoding == "base64" else data.decode("utf-8", "replace")


class ProcessSubscription:
    def __init__(self, conn: Connection, process_id: str | None, encoding: str) -> None:
        self.id = "psub_" + uuid.uuid4().hex[:12]
        self.conn = conn
        self.process_id = process_id
        self.encoding = encoding
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()  # bounded by hand, so the end marker fits
        self.closed = False
        self._task = asyncio.ensure_future(self._send_all())

    def wants(self, process_id: str) -> bool:
        return not self.closed and self.process_id in (None, process_id)

    def chunk(self, process_id: str, chunk: Chunk) -> None:
        self._put(
            "processes/output",
            {
                "subscription_id": self.id,
                "process_id": process_id,
                "stream": chunk.stream,
                "offset": chunk.offset,
                "data": encode(chunk.data, self.encoding),
                "encoding": self.encoding,
            },
        )

    def exited(self, params: dict[str, Any]) -> None:
        self._put("processes/exited", {"subscription_id": self.id, **params})

    def _put(self, method: str, params: dict[str, Any]) -> None:
        if self.closed:
            return
        if self.conn.closed:
            self.close()
            return
        frame = orjson.dumps({"jsonrpc": "2.0", "method": method, "params": params})
        if self.queue.qsize() >= QUEUE_LIMIT:
            reason = {"subscription_id": self.id, "reason": "overflow"}
            closing = {"jsonrpc": "2.0", "method": "processes/subscription_closed", "params": reason}
            self.queue.put_nowait(orjson.dumps(closing))
            self.close()
            return
        self.queue.put_nowait(frame)

    async def _send_all(self) -> None:
        with contextlib.suppress(Exception):
            while (frame := await self.queue.get()) is not None:
                await self.conn.send(frame)
        self.closed = True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)

    async def cancel(self) -> None:
        self.close()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
