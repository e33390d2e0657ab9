"""Client-side recording: what an SDK client streams is also written to a store, for apps whose sandbox cannot
reach the database. `session.events(record=Store(url))` uses it.

The app's stream never waits on PostgreSQL: events are batched by a background task that writes through a
thread; a failing store is retried with backoff and logged, and the last batch is flushed when the stream ends.
Rows are idempotent on (session_id, sequence), so a daemon shipping the same session does no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .reader import Store

log = logging.getLogger(__name__)

FLUSH_DEADLINE = 10.0  # seconds the end of a stream waits for its last batch
RECORD_FIELDS = ("session_id", "agent", "cwd", "created_at", "model", "agent_mode", "permission_mode",
                 "native_session_id", "ended")


def default_daemon_id() -> str:
    return f"client_{socket.gethostname()[:40]}"


class Recorder:
    def __init__(
        self, store: Store, session_info: Callable[[], Awaitable[Any]], daemon_id: str | None = None
    ) -> None:
        self.store = store
        self._session_info = session_info
        self.daemon_id = daemon_id or default_daemon_id()
        self._pending: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.error: str | None = None

    async def _record(self) -> dict[str, Any] | None:
        try:
            info = await self._session_info()
        except Exception as exc:  # the session's record is a nicety; the events matter
            log.warning("recording: cannot read the session record: %s", exc)
            return None
        data = info.model_dump(mode="json", exclude_none=True) if hasattr(info, "model_dump") else dict(info)
        return {k: data[k] for k in RECORD_FIELDS if k in data}

    def add(self, event: Any) -> None:
        if hasattr(event, "model_dump"):
            event = event.model_dump(mode="json", exclude_none=True, by_alias=True)
        self._pending.append(event)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        delay = 0.2
        record = await self._record()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[:1000]
                ended = any(e.get("type") == "session.ended" for e in batch)
                if ended or self._closing:
                    record = await self._record() or record  # the final record says how it ended
                try:
                    self.written += await asyncio.to_thread(self.store.record, self.daemon_id, record, batch)
                except Exception as exc:
                    if self.error is None:
                        log.warning("recording to the store failed, retrying: %s", exc)
                    self.error = str(exc)
                    if self._closing:
                        return
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                self.error, delay = None, 0.2
                del self._pending[: len(batch)]
            if self._closing:
                return

    async def close(self) -> None:
        """Flush what is left (bounded by FLUSH_DEADLINE)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), FLUSH_DEADLINE)
            if not self._task.done():
                self._task.cancel()
        if self._pending:
            log.warning("recording: %d events were not written to the store", len(self._pending))


async def recorded(
    stream: AsyncIterator[Any], store: Store, session_info: Callable[[], Awaitable[Any]], daemon_id: str | None = None
) -> AsyncIterator[Any]:
    """`stream`, with every event also recorded into `store`."""
    recorder = Recorder(store, session_info, daemon_id)
    try:
        async for event in stream:
            recorder.add(event)
            yield event
    finally:
        await recorder.close()
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
