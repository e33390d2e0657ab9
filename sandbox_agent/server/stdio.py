"""`sandbox-agent stdio`: newline-delimited JSON-RPC on stdin/stdout; logs go to stderr only."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
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


async def _stdin_reader() -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=MAX_MESSAGE)
    if stat.S_ISREG(os.fstat(sys.stdin.fileno()).st_mode):
        # A file redirected to stdin is not a pipe and event loops refuse to watch it; it is all there anyway.
        with open(sys.stdin.fileno(), "rb", closefd=False) as f:  # noqa: ASYNC230 - once, at start-up
            reader.feed_data(f.read())
        reader.feed_eof()
        return reader
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _stdout_writer(loop: asyncio.AbstractEventLoop) -> Callable[[bytes], Awaitable[None]]:
    fd = sys.stdout.fileno()
    if stat.S_ISREG(os.fstat(fd).st_mode):

        async def write_file(data: bytes) -> None:
            view = memoryview(data)  # a regular file never blocks for long; event loops cannot watch one
            while view:
                view = view[os.write(fd, view) :]

        return write_file
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)

    async def write_pipe(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    return write_pipe


async def serve_stdio(daemon: Daemon) -> None:
    loop = asyncio.get_running_loop()
    reader = await _stdin_reader()
    write = await _stdout_writer(loop)

    async def send(data: bytes) -> None:
        await write(data + b"\n")

    async def send_many(frames: list[bytes]) -> None:
        await write(b"\n".join(frames) + b"\n")

    await daemon.start()
    ctx = ClientContext(daemon, None, send_many)
    conn = Connection(send, api, ctx)
    ctx.connection = conn
    log.info("sandbox-agent stdio ready")
    try:
        async for line in read_lines(reader, MAX_MESSAGE):
            if isinstance(line, OversizedLine):
                err = AppError(ErrorKind.MESSAGE_TOO_LARGE, f"message of {line.size} bytes exceeds {MAX_MESSAGE}")
                await conn.send(encode_error(None, err))
                continue
            conn.receive(line)
        await conn.drain(DRAIN_ON_EOF)
    finally:
        await ctx.close()
        await conn.close()
        await daemon.stop()
