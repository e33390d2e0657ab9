"""A background process's output: stdout and stderr in one byte-offset space, keeping only the newest bytes."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    stream: str  # "stdout" | "stderr"
    offset: int
    data: bytes

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


class OutputLog:
    """Chunks in arrival order with absolute offsets; the oldest are dropped past `cap` bytes."""

    def __init__(self, cap: int) -> None:
        self.cap = max(cap, 0)
        self.chunks: deque[Chunk] = deque()
        self.total = 0  # the next offset: every byte ever produced
        self.kept = 0

    @property
    def first_offset(self) -> int:
        return self.chunks[0].offset if self.chunks else self.total

    def append(self, stream: str, data: bytes) -> Chunk:
        chunk = Chunk(stream, self.total, data)
        self.total += len(data)
        self.chunks.append(chunk)
        self.kept += len(data)
        while self.kept > self.cap and self.chunks:
            head = self.chunks[0]
            excess = self.kept - self.cap
            if len(head.data) <= excess:
                self.chunks.popleft()
                self.kept -= len(head.data)
            else:  # keep the tail of a chunk bigger than what is left to drop
                self.chunks[0] = Chunk(head.stream, head.offset + excess, head.data[excess:])
                self.kept -= excess
        return chunk

    def read(self, offset: int, limit: int) -> tuple[int, list[Chunk]]:
        """Chunks from `offset` (or the oldest kept byte if later), up to about `limit` bytes."""
        start = max(offset, self.first_offset)
        out: list[Chunk] = []
        size = 0
        for chunk in self.chunks:
            if chunk.end <= start:
                continue
            piece = chunk
            if chunk.offset < start:
                piece = Chunk(chunk.stream, start, chunk.data[start - chunk.offset :])
            if size + len(piece.data) > limit:
                piece = Chunk(piece.stream, piece.offset, piece.data[: limit - size])
            if piece.data:
                out.append(piece)
                size += len(piece.data)
            if size >= limit:
                break
        return start, out
