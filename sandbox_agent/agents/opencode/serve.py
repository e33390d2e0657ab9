"""One shared `opencode serve` on a private loopback port with a random password, and its global SSE stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:
    import httpx  # imported when a server starts: it costs ~100 ms, paid by no daemon without OpenCode sessions

from ...rpc.errors import AppError
from ...rpc.framing import Line, OversizedLine
from ...schema.errors import ErrorKind
from ..process import AgentProcess
from .translator import session_of

log = logging.getLogger(__name__)

LISTENING = re.compile(rb"listening on (http://[\d.]+:\d+)")
START_TIMEOUT = 60.0


class SessionListener(Protocol):
    def on_event(self, event: dict[str, Any]) -> None: ...

    def on_server_exit(self, code: int, stderr: str) -> None: ...


class OpenCodeServer:
    def __init__(self, command: list[str], env: dict[str, str], home: Path) -> None:
        self.password = secrets.token_urlsafe(24)
        env = {**env, "OPENCODE_SERVER_PASSWORD": self.password}
        self.proc = AgentProcess(
            [*command, "serve", "--hostname", "127.0.0.1", "--port", "0"], env, str(home), self._on_line
        )
        self.url: str | None = None
        self._listening: asyncio.Future[str] | None = None
        self._exited: asyncio.Future[int] | None = None
        self.http: httpx.AsyncClient | None = None
        self.sessions: dict[str, SessionListener] = {}
        self._events: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.on_exit: Callable[[OpenCodeServer], None] | None = None

    @property
    def alive(self) -> bool:
        return self._exited is not None and not self._exited.done()

    def _on_line(self, line: Line) -> None:
        if isinstance(line, OversizedLine):
            return
        m = LISTENING.search(line)
        if m and self._listening is not None and not self._listening.done():
            self._listening.set_result(m.group(1).decode())

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._listening = loop.create_future()
        self._exited = loop.create_future()
        await self.proc.start()
        watch = asyncio.ensure_future(self._watch())
        # A request sent before the "listening" line can hang forever (measured), so wait for the line.
        done, _ = await asyncio.wait(
            {self._listening, watch}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if self._listening not in done:
            await self.proc.stop()
            summary = self.proc.stderr.summary()
            raise AppError(
                ErrorKind.AGENT_START_FAILED,
                "opencode serve did not start" + (f": {summary.tail or summary.head}" if summary else ""),
            )
        self.url = self._listening.result()
        import httpx

        self.http = httpx.AsyncClient(base_url=self.url, auth=("opencode", self.password), timeout=httpx.Timeout(60.0))
        self._events = asyncio.ensure_future(self._read_events())
        try:
            await asyncio.wait_for(self._connected.wait(), 30)
        except TimeoutError:
            raise AppError(ErrorKind.AGENT_START_FAILED, "opencode serve did not open its event stream") from None

    async def _watch(self) -> None:
        assert self._exited is not None
        code = await self.proc.wait()
        self._exited.set_result(code)
        if self._events is not None:
            self._events.cancel()
        summary = self.proc.stderr.summary()
        stderr = (summary.tail or summary.head) if summary else ""
        for listener in list(self.sessions.values()):
            listener.on_server_exit(code, stderr)
        if self.on_exit is not None:
            self.on_exit(self)

    async def _read_events(self) -> None:
        import httpx

        """`GET /global/event`: every directory's events; each frame is routed to its session."""
        assert self.http is not None
        while self.alive:
            try:
                async with self.http.stream("GET", "/global/event", timeout=httpx.Timeout(None, connect=10)) as resp:
                    async for line in resp.aiter_lines():
                        if not line.startswith("data:"):
                            continue
                        try:
                            frame = orjson.loads(line[5:])
                        except orjson.JSONDecodeError:
                            continue
                        event = frame.get("payload", frame) if isinstance(frame, dict) else {}
                        if event.get("type") == "server.connected":
                            self._connected.set()
                            continue
                        sid = session_of(event)
                        listener = self.sessions.get(sid) if sid else None
                        if listener is not None:
                            listener.on_event(event)
            except (httpx.HTTPError, OSError) as exc:
                if not self.alive:
                    return
                log.debug("opencode event stream dropped (%s); reconnecting", exc)
                await asyncio.sleep(0.2)

    async def call(self, method: str, path: str, directory: str, body: Any = None) -> Any:
        import httpx

        if self.http is None or not self.alive:
            raise AppError(ErrorKind.AGENT_ERROR, "opencode serve is not running")
        try:
            resp = await self.http.request(method, path, params={"directory": directory}, json=body)
        except httpx.HTTPError as exc:
            raise AppError(ErrorKind.AGENT_ERROR, f"opencode {method} {path}: {exc}") from None
        if resp.status_code == 404 and b"NotFoundError" in resp.content:
            raise AppError(ErrorKind.PERMISSION_NOT_FOUND, f"opencode: {resp.text[:300]}")
        if resp.status_code >= 400:
            raise AppError(ErrorKind.AGENT_ERROR, f"opencode {method} {path} -> {resp.status_code}: {resp.text[:300]}")
        return (
            resp.json()
            if resp.content and resp.headers.get("content-type", "").startswith("application/json")
            else None
        )

    async def stop(self) -> None:
        if self._events is not None:
            self._events.cancel()
        if self.http is not None:
            with contextlib.suppress(Exception):
                await self.http.aclose()
        with contextlib.suppress(Exception):
            await self.proc.stop(grace=3.0)
