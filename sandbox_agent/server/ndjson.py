"""One NDJSON JSON-RPC client (stdio, or one unix-socket connection): read lines, answer, drain on EOF."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..rpc.connection import Connection
from ..rpc.dispatcher import encode_error
from ..rpc.errors import AppError
from ..rpc.framing import OversizedLine, read_lines
from ..schema.errors import ErrorKind
from .api import api
from .client_context import ClientContext
from .daemon import Daemon

log = logging.getLogger(__name__)

MAX_MESSAGE = 16 * 1024 * 1024
DRAIN_ON_EOF = 30.0

Write = Callable[[bytes], Awaitable[None]]


async def serve_ndjson(daemon: Daemon, reader: asyncio.StreamReader, write: Write) -> None:
    """Serve one client until its input ends; requests already received are still answered (bounded)."""

    async def send(data: bytes) -> None:
        await write(data + b"\n")

    async def send_many(frames: list[bytes]) -> None:
        await write(b"\n".join(frames) + b"\n")

    ctx = ClientContext(daemon, None, send_many)
    conn = Connection(send, api, ctx)
    ctx.connection = conn
    daemon.client_attached()
    try:
        async for line in read_lines(reader, MAX_MESSAGE):
            if isinstance(line, OversizedLine):
                err = AppError(ErrorKind.MESSAGE_TOO_LARGE, f"message of {line.size} bytes exceeds {MAX_MESSAGE}")
                await conn.send(encode_error(None, err))
                continue
            conn.receive(line)
        await conn.drain(DRAIN_ON_EOF)
    except (ConnectionError, OSError) as exc:
        log.debug("client went away: %s", exc)
    finally:
        await ctx.close()
        await conn.close()
        daemon.client_detached()
