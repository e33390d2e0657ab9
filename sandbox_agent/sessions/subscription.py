"""A live subscription: replay after an offset, then follow the log, with a bounded lag.

The subscriber's buffer is a window onto the shared log (no per-subscriber copy): its cursor may fall at most
`max_lag` events behind. A client that lags further is told (`sessions/subscription_closed` with reason
`overflow` and its `resume_offset`) and dropped, so one slow client never stalls the agent or anyone else.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from ..ops.stats import STATS
from .event_log import EventLog

log = logging.getLogger(__name__)

DEFAULT_MAX_LAG = 10_000
PAGE = 256

Deliver = Callable[[str, list[bytes]], Awaitable[None]]
Closed = Callable[[str, str, int], Awaitable[None]]


class Subscription:
    def __init__(
        self,
        log_: EventLog,
        offset: int,
        deliver: Deliver,
        closed: Closed,
        is_final: Callable[[], bool],
        max_lag: int = DEFAULT_MAX_LAG,
    ) -> None:
        self.id = "sub_" + secrets.token_hex(8)
        self.log = log_
        self.cursor = offset
        self._deliver = deliver
        self._closed = closed
        self._is_final = is_final
        self.max_lag = max_lag
        self._event = asyncio.Event()
        self._overflow = False
        self._task: asyncio.Task[None] | None = None
        self._cancelled = False
        self._sending = False  # inside deliver(), which blocks while the client does not read
        self._cut_off = False  # cancelled by wake() for lagging while blocked there
        self._live_from = log_.last_seq  # replaying history is not lag; only live events count

    def start(self) -> None:
        if self._cancelled:  # unsubscribed before its start was due (start waits for the subscribe reply)
            return
        self.log.subscribers.add(self)
        self._task = asyncio.ensure_future(self._run())

    def wake(self, seq: int) -> None:
        if seq - max(self.cursor, self._live_from) > self.max_lag:
            self._overflow = True
            if self._sending and not self._cut_off and self._task is not None:
                # A client that stopped reading blocks its delivery, so it would only hear of its overflow once
                # it reads again; cut it off now. The frame being written is already in the transport's
                # buffer or not written at all, so the stream stays whole.
                self._cut_off = True
                self._task.cancel()
        self._event.set()

    async def _run(self) -> None:
        reason = "unsubscribed"
        try:
            while True:
                if self._overflow:
                    reason = "overflow"
                    STATS.overflowed()
                    break
                batch = self.log.read(self.cursor, PAGE)
                if batch:
                    self._sending = True
                    try:
                        await self._deliver(self.id, batch)
                    finally:
                        self._sending = False
                    STATS.delivered(len(batch))
                    self.cursor += len(batch)
                    continue
                if self._is_final() and self.cursor >= self.log.last_seq:
                    reason = "session_ended"
                    break
                # No await since read() came back empty, so no event can have slipped in before clear().
                self._event.clear()
                await self._event.wait()
        except asyncio.CancelledError:
            self.log.drop_subscriber(self)
            if not self._cut_off or self._cancelled:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            reason = "overflow"
            STATS.overflowed()
        except Exception as exc:  # the client went away; nothing to tell it
            log.debug("subscription %s ended: %s", self.id, exc)
            self.log.drop_subscriber(self)
            return
        self.log.drop_subscriber(self)
        try:
            await self._closed(self.id, reason, self.cursor)
        except Exception as exc:
            log.debug("could not tell %s it closed: %s", self.id, exc)

    async def cancel(self) -> None:
        self._cancelled = True
        self.log.drop_subscriber(self)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
