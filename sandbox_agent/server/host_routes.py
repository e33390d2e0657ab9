"""HTTP routes for what JSON-RPC carries badly: big files streamed both ways, and terminal bytes on a WebSocket.

`GET|PUT /v1/fs/file?path=...` move a file in chunks (never whole in memory; a PUT is atomic like fs/write;
`PUT ...&extract=tar` unpacks a tar of any size like fs/upload);
`/v1/terminals/{terminal_id}` is a WebSocket of raw terminal bytes, binary frames both ways, scrollback first.
Both sit behind the same TokenAuth as /v1/rpc.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..fs.atomic import AtomicWriter
from ..rpc.dispatcher import encode_error
from ..rpc.errors import AppError, RpcError
from ..schema.errors import ErrorKind
from .auth import SUBPROTOCOL
from .daemon import Daemon

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
STATUS = {"path_outside_roots": 403, "file_not_found": 404, "file_exists": 409, "terminal_not_found": 404}


def _error(exc: RpcError) -> Response:
    return Response(encode_error(None, exc), status_code=STATUS.get(exc.kind or "", 400), media_type="application/json")


def _path(request: Request) -> str:
    path = request.query_params.get("path")
    if not path:
        raise AppError(ErrorKind.FS_ERROR, "give the file as ?path=...")
    return path


def host_routes(daemon: Daemon) -> list[Any]:
    async def file_get(request: Request) -> Response:
        try:
            from ..fs.ops import open_file  # with its models, on first use

            fd, size, loc = await asyncio.to_thread(open_file, daemon.fs_roots, _path(request))
        except RpcError as exc:
            return _error(exc)
        return StreamingResponse(
            _read_chunks(fd),
            media_type="application/octet-stream",
            headers={"x-file-size": str(size), "x-file-path": loc.real, "cache-control": "no-store"},
        )

    async def file_put(request: Request) -> Response:
        query = request.query_params
        if query.get("extract") == "tar":
            return await tar_put(request)
        try:
            mode = int(query["mode"], 8) if "mode" in query else None
            create = query.get("create_dirs", "false").lower() in ("1", "true", "yes")
            writer = await asyncio.to_thread(AtomicWriter, daemon.fs_roots, _path(request), create, mode)
        except ValueError:
            return _error(AppError(ErrorKind.FS_ERROR, "mode must be octal, e.g. 644"))
        except RpcError as exc:
            return _error(exc)
        try:
            pending = bytearray()
            async for piece in request.stream():
                pending += piece
                if len(pending) >= CHUNK:
                    await asyncio.to_thread(writer.write, bytes(pending))
                    pending.clear()
            if pending:
                await asyncio.to_thread(writer.write, bytes(pending))
            await asyncio.to_thread(writer.commit)
        except ClientDisconnect:
            await asyncio.to_thread(writer.abort)
            return Response(status_code=400)
        except RpcError as exc:
            await asyncio.to_thread(writer.abort)
            return _error(exc)
        except BaseException:
            await asyncio.to_thread(writer.abort)
            raise
        return JSONResponse({"path": writer.loc.real, "size": writer.size})

    async def tar_put(request: Request) -> Response:
        """A tar of any size: spooled to an unnamed temp file as it arrives, then extracted like fs/upload."""
        try:
            path = _path(request)
            daemon.fs_roots.locate(path)  # refuse before reading the body
        except RpcError as exc:
            return _error(exc)
        spool = await asyncio.to_thread(tempfile.TemporaryFile)
        try:
            pending = bytearray()
            async for piece in request.stream():
                pending += piece
                if len(pending) >= CHUNK:
                    await asyncio.to_thread(spool.write, bytes(pending))
                    pending.clear()
            await asyncio.to_thread(spool.write, bytes(pending))
            spool.seek(0)
            from ..fs.tar import upload_tar  # tarfile, on first use

            result = await asyncio.to_thread(upload_tar, daemon.fs_roots, path, spool)
        except ClientDisconnect:
            return Response(status_code=400)
        except RpcError as exc:
            return _error(exc)
        finally:
            spool.close()
        return JSONResponse(result.model_dump(mode="json"))

    async def terminal_ws(websocket: WebSocket) -> None:
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        term = daemon.terminals.terminals.get(websocket.path_params["terminal_id"])
        if term is None:
            await websocket.close(code=4404, reason="terminal_not_found")
            return
        backlog, viewer = term.attach()

        async def pump_out() -> None:
            if backlog:
                await websocket.send_bytes(backlog)
            while (data := await viewer.get()) is not None:
                await websocket.send_bytes(data)
            reason = "viewer too far behind" if viewer.dropped else "terminal output ended"
            await websocket.close(code=1013 if viewer.dropped else 1000, reason=reason)

        sender = asyncio.ensure_future(pump_out())
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("bytes")
                if data is None:
                    data = (message.get("text") or "").encode()
                try:
                    await term.write(data)
                except RpcError:
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            term.detach(viewer)
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender

    return [
        Route("/v1/fs/file", file_get, methods=["GET"]),
        Route("/v1/fs/file", file_put, methods=["PUT"]),
        WebSocketRoute("/v1/terminals/{terminal_id}", terminal_ws),
    ]


async def _read_chunks(fd: int) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(os.read, fd, CHUNK):
            yield chunk
    finally:
        os.close(fd)
