"""Newline-delimited framing over a byte stream, with a hard cap on line length."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

DEFAULT_MAX_LINE = 16 * 1024 * 1024


@dataclass(frozen=True)
class OversizedLine:
    """Stands in for a line longer than the cap; its bytes were discarded, the stream goes on."""

    size: int


async def read_lines(
    reader: asyncio.StreamReader, max_line: int = DEFAULT_MAX_LINE, chunk: int = 256 * 1024
) -> AsyncIterator[bytes | OversizedLine]:
    """Yield each complete line (without the newline); an over-long line yields OversizedLine once."""
    buf = bytearray()
    discarding = 0  # >0 while skipping the rest of an oversized line
    while True:
        data = await reader.read(chunk)
        if not data:
            if discarding:
                yield OversizedLine(discarding)
            elif buf.strip():
                yield bytes(buf)
            return
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                piece = data[start:]
                if discarding:
                    discarding += len(piece)
                else:
                    buf += piece
                    if len(buf) > max_line:
                        discarding = len(buf)
                        buf.clear()
                break
            piece = data[start:nl]
            if discarding:
                yield OversizedLine(discarding + len(piece))
                discarding = 0
            elif len(buf) + len(piece) > max_line:
                size = len(buf) + len(piece)
                buf.clear()
                yield OversizedLine(size)
            else:
                if buf:
                    buf += piece
                    line = bytes(buf)
                    buf.clear()
                else:
                    line = piece
                if line.strip():
                    yield line
            start = nl + 1
