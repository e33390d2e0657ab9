"""Small helpers shared by the fake providers: SSE framing, chunking, pacing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson

from .script import Reply


def sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    return head + b"data: " + body + b"\n\n"


def pieces(text: str, size: int = 30) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


async def paced(reply: Reply, chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    if reply.initial_delay_ms:
        await asyncio.sleep(reply.initial_delay_ms / 1000)
    for chunk in chunks:
        yield chunk
        if reply.chunk_delay_ms:
            await asyncio.sleep(reply.chunk_delay_ms / 1000)
