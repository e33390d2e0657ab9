"""One JSON-RPC peer over any message transport: serves our methods and calls the other side's."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from .dispatcher import Dispatcher
from .errors import INTERNAL_ERROR, RpcError, error_from_dict

log = logging.getLogger(__name__)

Send = Callable[[bytes], Awaitable[None]]
NotificationHandler = Callable[[str, Any], None]

# Work a handler wants done only once its response is on the wire (e.g. a subscription's first notification
# must follow the subscribe result). Each request runs in its own task, so the list is per request.
_after_reply: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "after_reply", default=None
)


def after_reply(fn: Callable[[], None]) -> None:
    """Run `fn` after the current request's response has been sent (at once outside a connection)."""
    pending = _after_reply.get()
    if pending is None:
        fn()
    else:
        pending.append(fn)


class ConnectionClosed(RpcError):
    def __init__(self, message: str = "connection closed") -> None:
        super().__init__(INTERNAL_ERROR, message, {"kind": "connection_closed"})


class Connection:
    """Requests from the peer go to `dispatcher` (each in its own task); responses resolve our calls."""

    def __init__(
        self,
        send: Send,
        dispatcher: Dispatcher[Any] | None = None,
        context: Any = None,
        on_notification: NotificationHandler | None = None,
    ) -> None:
        self._send = send
        self._lock = asyncio.Lock()
        self._dispatcher = dispatcher
        self.context = context if context is not None else self
        self._on_notification = on_notification
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    async def send(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionClosed()
        async with self._lock:
            await self._send(data)

    async def send_many(self, frames: list[bytes], writer: Callable[[list[bytes]], Awaitable[None]]) -> None:
        """Send several messages in one transport write (stdio coalesces them into one write)."""
        if self.closed:
            raise ConnectionClosed()
        async with self._lock:
            await writer(frames)

    async def notify(self, method: str, params: Any) -> None:
        await self.send(orjson.dumps({"jsonrpc": "2.0", "method": method, "params": params}))

    async def request(self, method: str, params: Any = None, timeout: float | None = None) -> Any:
        req_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params is not None:
            msg["params"] = params
        try:
            await self.send(orjson.dumps(msg))
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(req_id, None)

    def receive(self, data: bytes | str) -> None:
        """Feed one incoming transport message; never raises for bad input."""
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._spawn(self._serve(data))
            return
        if self._is_response(message):
            for m in message if isinstance(message, list) else [message]:
                self._resolve(m)
        elif (
            isinstance(message, dict)
            and "id" not in message
            and isinstance(message.get("method"), str)
            and self._on_notification is not None
        ):
            self._on_notification(message["method"], message.get("params"))
        else:
            self._spawn(self._serve_message(message))

    @staticmethod
    def _is_response(message: Any) -> bool:
        def one(m: Any) -> bool:
            return isinstance(m, dict) and "method" not in m and ("result" in m or "error" in m)

        if isinstance(message, list):
            return bool(message) and all(one(m) for m in message)
        return one(message)

    def _resolve(self, message: dict[str, Any]) -> None:
        fut = self._pending.get(message.get("id"))  # type: ignore[arg-type]
        if fut is None or fut.done():
            log.debug("response for unknown id %r", message.get("id"))
            return
        if "error" in message and isinstance(message["error"], dict):
            fut.set_exception(error_from_dict(message["error"]))
        else:
            fut.set_result(message.get("result"))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, data: bytes | str) -> None:
        if self._dispatcher is None:
            return
        reply = await self._dispatcher.handle_bytes(data, self.context)
        await self._reply(reply)

    async def _serve_message(self, message: Any) -> None:
        if self._dispatcher is None:
            return
        pending: list[Callable[[], None]] = []
        _after_reply.set(pending)
        try:
            reply = await self._dispatcher.handle_message(message, self.context)
            await self._reply(reply)
        finally:
            for fn in pending:
                fn()

    async def _reply(self, reply: bytes | None) -> None:
        if reply is None or self.closed:
            return
        try:
            await self.send(reply)
        except Exception as exc:  # the peer went away while we worked
            log.debug("could not send reply: %s", exc)

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) for the requests already received to be answered."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionClosed())
        self._pending.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
