"""The daemon side of Amp approvals: a unix socket where delegate commands ask, by per-session secret."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any, Protocol

import orjson

log = logging.getLogger(__name__)


class Asker(Protocol):
    async def ask(self, request: dict[str, Any], gone: asyncio.Future[None]) -> tuple[bool, str | None]: ...


class DelegateBroker:
    def __init__(self) -> None:
        # A short path: unix socket paths are limited to ~107 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="sa-amp-"))
        os.chmod(self.dir, 0o700)
        self.path = self.dir / "delegate.sock"
        self.sessions: dict[str, Asker] = {}
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_unix_server(self._handle, path=str(self.path))
            os.chmod(self.path, 0o600)

    def register(self, session: Asker) -> str:
        secret = secrets.token_urlsafe(24)
        self.sessions[secret] = session
        return secret

    def unregister(self, secret: str) -> None:
        self.sessions.pop(secret, None)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            request = orjson.loads(line)
            session = self.sessions.get(str(request.get("secret", "")))
            if session is None:
                reply: dict[str, Any] = {"allow": False, "message": "Rejected by sandbox-agent: unknown session."}
            else:
                loop = asyncio.get_running_loop()
                gone: asyncio.Future[None] = loop.create_future()
                watcher = asyncio.ensure_future(reader.read())  # EOF = the delegate (or Amp) went away
                watcher.add_done_callback(lambda _: gone.done() or gone.set_result(None))
                try:
                    allow, message = await session.ask(request, gone)
                finally:
                    watcher.cancel()
                reply = {"allow": allow, "message": message}
            writer.write(orjson.dumps(reply) + b"\n")
            await writer.drain()
        except (orjson.JSONDecodeError, ConnectionError, asyncio.IncompleteReadError) as exc:
            log.debug("delegate connection failed: %s", exc)
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        with contextlib.suppress(OSError):
            self.path.unlink()
            self.dir.rmdir()
