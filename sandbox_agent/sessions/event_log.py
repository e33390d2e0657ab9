"""One session's events: gap-free sequence numbers, a memory window, the journal behind it, and fan-out."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .journal import Journal

if TYPE_CHECKING:
    from .subscription import Subscription

MEMORY_WINDOW = 1024  # recent events kept in memory per *active* session when a journal holds the rest
# An idle or ended session with no subscribers keeps none: a long-lived daemon's memory must not grow with
# history. Reads then come from the journal (measured in benchmarks/memory_soak.py and docs/decisions.md).


class EventLog:
    """Events are encoded once (JSON bytes) and shared by the journal, every reader and every subscriber.

    `last_seq` is the newest sequence assigned; `visible_seq` the newest one readers may see (durable, or
    delivered from memory when the journal is failing). Readers never see past `visible_seq`.
    """

    def __init__(self, session_id: str, journal: Journal | None, last_seq: int = 0) -> None:
        self.session_id = session_id
        self.journal = journal
        self.last_seq = last_seq
        self.visible_seq = last_seq
        self._mem: list[bytes] = []
        self._mem_first = last_seq + 1  # sequence number of _mem[0]
        self.subscribers: set[Subscription] = set()
        self._visible_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.idle = True  # set by the session: no turn is running, so nothing live needs the recent window

    def append(self, seq: int, type_: str, body: bytes) -> None:
        assert seq == self.last_seq + 1, "sequence numbers are gap-free"
        self.last_seq = seq
        self._mem.append(body)
        if self.journal is None:
            self._visible(seq)
        else:
            self.journal.add_event(self.session_id, seq, type_, body, self._visible)

    def _visible(self, seq: int) -> None:
        if seq <= self.visible_seq:
            return
        self.visible_seq = seq
        if self.journal is not None and self.journal.error is None and len(self._mem) > 2 * MEMORY_WINDOW:
            drop = min(len(self._mem) - MEMORY_WINDOW, seq - self._mem_first + 1)
            if drop > 0:
                del self._mem[:drop]
                self._mem_first += drop
        for sub in tuple(self.subscribers):
            sub.wake(seq)
        if self._visible_waiters:
            still = []
            for want, fut in self._visible_waiters:
                if want <= seq:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    still.append((want, fut))
            self._visible_waiters = still
        if self.idle and not self.subscribers:
            self.release()

    def release(self) -> None:
        """Drop the in-memory window once every event is durable; reads go to the journal from then on."""
        if self.journal is None or self.journal.error is not None or self.visible_seq != self.last_seq:
            return
        if self._mem:
            self._mem = []
            self._mem_first = self.last_seq + 1

    def drop_subscriber(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)
        if self.idle and not self.subscribers:
            self.release()

    @property
    def in_memory(self) -> int:
        return len(self._mem)

    async def wait_visible(self, seq: int) -> None:
        """Until readers can see `seq` (committed): read-your-writes for calls that return after events."""
        if seq <= self.visible_seq:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._visible_waiters.append((seq, fut))
        await fut

    def read(self, after: int, limit: int) -> list[bytes]:
        """Visible events with sequence > after, at most `limit`, in order."""
        upto = min(self.visible_seq, after + limit)
        if after >= upto:
            return []
        if after + 1 >= self._mem_first:
            return self._mem[after + 1 - self._mem_first : upto + 1 - self._mem_first]
        assert self.journal is not None
        older = self.journal.read_events(self.session_id, after, limit, min(upto, self._mem_first - 1))
        if len(older) < limit and upto >= self._mem_first:
            older += self._mem[: upto + 1 - self._mem_first][: limit - len(older)]
        return older

    def close_subscribers(self) -> None:
        for sub in tuple(self.subscribers):
            sub.wake(self.visible_seq)
