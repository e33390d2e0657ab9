"""`sandbox-agent stdio`: newline-delimited JSON-RPC on stdin/stdout; logs go to stderr only.

By default it is a thin relay to the state dir's shared daemon (started when none runs); `--embedded` and
`--ephemeral` serve a private daemon inside this process instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from .daemon import Daemon
from .ndjson import MAX_MESSAGE, serve_ndjson

log = logging.getLogger(__name__)

RELAY_CHUNK = 256 * 1024


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
    """A private daemon bound to this process (embedded or ephemeral)."""
    loop = asyncio.get_running_loop()
    await daemon.start()  # an owned state dir is refused here, before stdin/stdout are touched
    reader = await _stdin_reader()
    write = await _stdout_writer(loop)
    log.info("sandbox-agent stdio ready (embedded daemon)")
    try:
        await serve_ndjson(daemon, reader, write)
    finally:
        await daemon.stop()


async def relay_stdio(state_dir: Path, spawn_args: list[str]) -> int:
    """Copy bytes between stdin/stdout and the shared daemon's socket; the framing is the same on both sides."""
    from ..statedir import AttachFailed, attach

    loop = asyncio.get_running_loop()
    try:
        sock_reader, sock_writer = await attach(state_dir, extra=spawn_args)
    except AttachFailed as exc:
        print(f"sandbox-agent: error: {exc}", file=sys.stderr, flush=True)
        return 1
    stdin = await _stdin_reader()
    write = await _stdout_writer(loop)
    log.info("sandbox-agent stdio ready (attached to the daemon in %s)", state_dir)

    async def upstream() -> None:
        while chunk := await stdin.read(RELAY_CHUNK):
            sock_writer.write(chunk)
            await sock_writer.drain()
        if sock_writer.can_write_eof():
            sock_writer.write_eof()  # the daemon answers what it has, then closes its side

    async def downstream() -> None:
        while chunk := await sock_reader.read(RELAY_CHUNK):
            await write(chunk)

    up = asyncio.ensure_future(upstream())
    try:
        await downstream()
    except (ConnectionError, OSError) as exc:
        log.debug("daemon connection lost: %s", exc)
    finally:
        up.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await up
        sock_writer.close()
    if stdin.at_eof():
        return 0
    # The daemon closed while our client was still talking: it died or was stopped.
    print("sandbox-agent: error: the daemon closed the connection", file=sys.stderr, flush=True)
    return 1
