"""What one connected client owns: its connection and its subscriptions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..rpc.connection import Connection
from ..sessions.subscription import Subscription
from .daemon import Daemon

log = logging.getLogger(__name__)

SendMany = Callable[[list[bytes]], Awaitable[None]]

_EVENT_PREFIX = b'{"jsonrpc":"2.0","method":"sessions/event","params":{"subscription_id":"'


class ClientContext:
    """Passed to every handler as the call context. `connection` is None for one-shot HTTP calls."""

    def __init__(self, daemon: Daemon, connection: Connection | None, send_many: SendMany | None = None) -> None:
        self.daemon = daemon
        self.connection = connection
        self._send_many = send_many
        self.subscriptions: dict[str, Subscription] = {}
        # what this client started that ends with it (e.g. an HTTP listener asked for by `server`)
        self.cleanups: list[Callable[[], Awaitable[None]]] = []

    @property
    def streaming(self) -> bool:
        return self.connection is not None

    async def deliver(self, subscription_id: str, bodies: list[bytes]) -> None:
        """Push events as `sessions/event` notifications, built from the already-encoded event bytes."""
        assert self.connection is not None
        head = _EVENT_PREFIX + subscription_id.encode() + b'","event":'
        frames = [head + body + b"}}" for body in bodies]
        if self._send_many is not None:
            await self.connection.send_many(frames, self._send_many)
        else:
            for frame in frames:
                await self.connection.send(frame)

    async def closed(self, subscription_id: str, reason: str, resume_offset: int) -> None:
        self.subscriptions.pop(subscription_id, None)
        if self.connection is not None and not self.connection.closed:
            await self.connection.notify(
                "sessions/subscription_closed",
                {"subscription_id": subscription_id, "reason": reason, "resume_offset": resume_offset},
            )

    async def close(self) -> None:
        subs = list(self.subscriptions.values())
        self.subscriptions.clear()
        await asyncio.gather(*(s.cancel() for s in subs), return_exceptions=True)
        cleanups, self.cleanups = self.cleanups, []
        for cleanup in cleanups:
            try:
                await cleanup()
            except Exception as exc:
                log.warning("cleanup after a client failed: %s", exc)
