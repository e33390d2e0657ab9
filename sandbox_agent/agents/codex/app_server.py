"""One shared `codex app-server` (JSON-RPC over stdio, messages without "jsonrpc"), routing by thread id."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import orjson

from ... import __version__
from ...rpc.errors import AppError
from ...rpc.framing import Line, OversizedLine
from ...schema.errors import ErrorKind
from ..process import AgentProcess

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 60.0


class ThreadListener(Protocol):
    def on_notification(self, method: str, params: dict[str, Any]) -> None: ...

    def on_request(self, request_id: Any, method: str, params: dict[str, Any]) -> None: ...

    def on_server_exit(self, code: int, stderr: str) -> None: ...


class AppServer:
    def __init__(self, command: list[str], env: dict[str, str], home: Path) -> None:
        self.proc = AgentProcess([*command, "app-server"], env, str(home), self._on_line)
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.threads: dict[str, ThreadListener] = {}
        self._exited: asyncio.Future[int] | None = None
        self.on_exit: Callable[[AppServer], None] | None = None

    @property
    def alive(self) -> bool:
        return self._exited is not None and not self._exited.done()

    async def start(self) -> None:
        await self.proc.start()
        self._exited = asyncio.get_running_loop().create_future()
        asyncio.ensure_future(self._watch())  # noqa: RUF006 - ends with the process
        await self.request(
            "initialize",
            {
                "clientInfo": {"name": "sandbox-agent", "title": "Sandbox Agent", "version": __version__},
                "capabilities": {"experimentalApi": False},
            },
        )
        await self._send({"method": "initialized"})

    async def _watch(self) -> None:
        assert self._exited is not None
        code = await self.proc.wait()
        self._exited.set_result(code)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(AppError(ErrorKind.AGENT_ERROR, f"codex app-server exited with code {code}"))
        summary = self.proc.stderr.summary()
        stderr = summary.tail or summary.head if summary else ""
        for listener in list(self.threads.values()):
            listener.on_server_exit(code, stderr)
        if self.on_exit is not None:
            self.on_exit(self)

    async def _send(self, msg: dict[str, Any]) -> None:
        try:
            await self.proc.write_line(orjson.dumps({"jsonrpc": "2.0", **msg}))
        except (ConnectionError, RuntimeError) as exc:
            raise AppError(ErrorKind.AGENT_ERROR, f"codex app-server is not reading: {exc}") from None

    async def request(self, method: str, params: dict[str, Any], timeout: float = REQUEST_TIMEOUT) -> Any:
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            await self._send({"id": rid, "method": method, "params": params})
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise AppError(ErrorKind.TIMEOUT, f"codex did not answer {method} within {timeout:.0f} s") from None
        finally:
            self._pending.pop(rid, None)

    async def respond(self, request_id: Any, result: dict[str, Any]) -> None:
        await self._send({"id": request_id, "result": result})

    def _on_line(self, line: Line) -> None:
        if isinstance(line, OversizedLine):
            log.warning("codex app-server wrote a %d-byte line; dropped", line.size)
            return
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError:
            log.debug("codex app-server wrote a non-JSON line: %r", line[:200])
            return
        if not isinstance(msg, dict):
            return
        method, rid = msg.get("method"), msg.get("id")
        if method is None and rid is not None:
            fut = self._pending.get(rid)
            if fut is not None and not fut.done():
                if "error" in msg:
                    err = msg["error"] or {}
                    fut.set_exception(AppError(ErrorKind.AGENT_ERROR, f"codex: {err.get('message')}", codex_error=err))
                else:
                    fut.set_result(msg.get("result"))
            return
        params = msg.get("params") or {}
        thread_id = params.get("threadId") or (params.get("thread") or {}).get("id")
        listener = self.threads.get(thread_id) if thread_id else None
        if listener is None:
            if rid is not None:  # an approval nobody can answer: decline rather than leave codex waiting
                asyncio.ensure_future(self.respond(rid, {"decision": "decline"}))  # noqa: RUF006
            return
        if rid is not None:
            listener.on_request(rid, method, params)
        else:
            listener.on_notification(method, params)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.proc.stop(grace=3.0)
