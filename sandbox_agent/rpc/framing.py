"""Newline-delimited framing over a byte stream, with a hard cap on line length."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

DEFAULT_MAX_LINE = 16 * 1024 * 1024


@dataclass(frozen=True)
class OversizedLine:
    """Stands in for a line longer than the cap; its bytes were discarded, the stream goes on."""

    size: int


Line = bytes | OversizedLine


class LineSplitter:
    """Push bytes in, get complete lines out (synchronously, so it can sit in a protocol callback)."""

    def __init__(self, on_line: Callable[[Line], None], max_line: int = DEFAULT_MAX_LINE) -> None:
        self._on_line = on_line
        self._max = max_line
        self._buf = bytearray()
        self._discarding = 0  # >0 while skipping the rest of an oversized line

    def feed(self, data: bytes) -> None:
        start = 0
        on_line = self._on_line
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                self._keep(data[start:])
                return
            piece = data[start:nl]
            start = nl + 1
            if self._discarding:
                size = self._discarding + len(piece)
                self._discarding = 0
                on_line(OversizedLine(size))
            elif len(self._buf) + len(piece) > self._max:
                size = len(self._buf) + len(piece)
                self._buf.clear()
                on_line(OversizedLine(size))
            else:
                if self._buf:
                    self._buf += piece
                    piece = bytes(self._buf)
                    self._buf.clear()
                if piece.strip():
                    on_line(piece)

    def _keep(self, piece: bytes) -> None:
        if self._discarding:
            self._discarding += len(piece)
            return
        self._buf += piece
        if len(self._buf) > self._max:
            self._discarding = len(self._buf)
            self._buf.clear()

    def end(self) -> None:
        """The stream ended: a last line without a newline still counts."""
        if self._discarding:
            self._on_line(OversizedLine(self._discarding))
        elif self._buf.strip():
            self._on_line(bytes(self._buf))
        self._discarding = 0
        self._buf.clear()


async def read_lines(
    reader: asyncio.StreamReader, max_line: int = DEFAULT_MAX_LINE, chunk: int = 256 * 1024
) -> AsyncIterator[Line]:
    """Yield each complete line (without the newline); an over-long line yields OversizedLine once."""
    ready: list[Line] = []
    splitter = LineSplitter(ready.append, max_line)
    while True:
        data = await reader.read(chunk)
        if not data:
            splitter.end()
        else:
            splitter.feed(data)
        for line in ready:
            yield line
        ready.clear()
        if not data:
            return
