"""The daemon's unix socket in its state dir (mode 0600): how every local client attaches to the owner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from ..statedir import short_socket_path
from .daemon import Daemon
from .ndjson import MAX_MESSAGE, serve_ndjson

log = logging.getLogger(__name__)


async def serve_unix(daemon: Daemon, path: Path) -> asyncio.Server:
    """Listen on `path`; each connection is one NDJSON JSON-RPC client of this daemon."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def write(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        try:
            await serve_ndjson(daemon, reader, write)
        finally:
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

    # Only the owner of the lock gets here, so whatever socket file exists is a dead daemon's.
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    old = os.umask(0o077)  # the socket is born 0600: no window where another user could connect
    try:
        with short_socket_path(path) as where:
            server = await asyncio.start_unix_server(handle, where, limit=MAX_MESSAGE)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return server
