"""SDK methods for files, processes and terminals, mixed into `SandboxAgent`.

JSON-RPC carries the small things on any transport; big files and terminal bytes need the HTTP server
(`SandboxAgent.connect(url, token)`), whose address the client remembers for them.
"""

from __future__ import annotations

import asyncio
import base64
import os
import tarfile
import tempfile
from collections.abc import AsyncIterator, Iterable
from typing import Any

import anyio

from ..rpc.connection import ConnectionClosed
from ..schema.fs import FsDeleteResult, FsEntry, FsListResult, FsMoveResult, FsUploadResult, FsWriteResult
from ..schema.processes import OutputChunk, ProcessInfo, ProcessOutputResult, ProcessRunResult
from ..schema.terminals import TerminalInfo, TerminalOpenResult

STREAM_CHUNK = 1024 * 1024


class HostMixin:
    """Files (`fs_*`), processes (`run`, `*_process`) and terminals (`*_terminal`) on the daemon."""

    _http_base: str | None = None
    _http_headers: dict[str, str] | None = None
    _queues: dict[str, asyncio.Queue[Any]]

    async def call(self, method: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        raise NotImplementedError

    async def reconnect(self) -> None:
        raise NotImplementedError

    # files

    async def fs_list(self, path: str) -> FsListResult:
        return FsListResult.model_validate(await self.call("fs/list", {"path": path}))

    async def fs_stat(self, path: str) -> FsEntry:
        return FsEntry.model_validate(await self.call("fs/stat", {"path": path}))

    async def fs_read(self, path: str, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes of a file (up to 8 MiB per call; `fs_download` streams bigger ones)."""
        r = await self.call("fs/read", {"path": path, "offset": offset, "length": length, "encoding": "base64"})
        return base64.b64decode(r["data_base64"])

    async def fs_read_text(self, path: str) -> str:
        return (await self.call("fs/read", {"path": path, "encoding": "utf-8"}))["text"]

    async def fs_write(
        self, path: str, data: bytes | str, create_dirs: bool = False, mode: int | None = None
    ) -> FsWriteResult:
        """Write a whole file atomically."""
        params: dict[str, Any] = {"path": path, "create_dirs": create_dirs, "mode": mode}
        if isinstance(data, str):
            params["text"] = data
        else:
            params["data_base64"] = base64.b64encode(data).decode()
        return FsWriteResult.model_validate(await self.call("fs/write", params))

    async def fs_mkdir(self, path: str, parents: bool = False) -> FsEntry:
        return FsEntry.model_validate(await self.call("fs/mkdir", {"path": path, "parents": parents}))

    async def fs_move(self, src: str, dst: str, overwrite: bool = False) -> FsMoveResult:
        return FsMoveResult.model_validate(await self.call("fs/move", {"src": src, "dst": dst, "overwrite": overwrite}))

    async def fs_delete(self, path: str, recursive: bool = False) -> FsDeleteResult:
        return FsDeleteResult.model_validate(await self.call("fs/delete", {"path": path, "recursive": recursive}))

    async def fs_upload_tar(self, path: str, archive: bytes) -> FsUploadResult:
        params = {"path": path, "tar_base64": base64.b64encode(archive).decode()}
        return FsUploadResult.model_validate(await self.call("fs/upload", params))

    async def fs_upload_dir(self, local_dir: str | os.PathLike[str], path: str) -> FsUploadResult:
        """Send a local directory tree (e.g. a repository) as one gzipped tar, extracted under `path`.

        Over the HTTP server it streams (any size); otherwise it goes in one JSON-RPC message."""
        spool = tempfile.SpooledTemporaryFile(max_size=STREAM_CHUNK)

        def pack() -> None:
            with tarfile.open(fileobj=spool, mode="w:gz") as tar:
                tar.add(str(local_dir), arcname=".")
            spool.seek(0)

        try:
            await asyncio.to_thread(pack)
            if self._http_base is None:
                return await self.fs_upload_tar(path, spool.read())

            async def body() -> AsyncIterator[bytes]:
                while chunk := await asyncio.to_thread(spool.read, STREAM_CHUNK):
                    yield chunk

            async with self._http() as http:
                resp = await http.put("/v1/fs/file", params={"path": path, "extract": "tar"}, content=body())
            if resp.status_code != 200:
                raise _http_error(resp)
            return FsUploadResult.model_validate(resp.json())
        finally:
            spool.close()

    def _http(self) -> Any:
        import httpx

        if self._http_base is None:
            raise RuntimeError("streaming files needs the HTTP server: use SandboxAgent.connect(url, token)")
        return httpx.AsyncClient(base_url=self._http_base, headers=self._http_headers or {}, timeout=None)

    async def fs_download(self, path: str, dest: str | os.PathLike[str]) -> int:
        """Stream a file of any size to a local path; returns its size."""
        size = 0
        async with self._http() as http, http.stream("GET", "/v1/fs/file", params={"path": path}) as resp:
            if resp.status_code != 200:
                await resp.aread()
                raise _http_error(resp)
            async with await anyio.open_file(dest, "wb") as out:
                async for chunk in resp.aiter_bytes(STREAM_CHUNK):
                    await out.write(chunk)
                    size += len(chunk)
        return size

    async def fs_upload_file(
        self, local: str | os.PathLike[str], path: str, create_dirs: bool = False
    ) -> FsWriteResult:
        """Stream a local file of any size into the sandbox (atomic, like fs_write)."""

        async def body() -> AsyncIterator[bytes]:
            async with await anyio.open_file(local, "rb") as f:
                while chunk := await f.read(STREAM_CHUNK):
                    yield chunk

        params = {"path": path, "create_dirs": str(create_dirs).lower()}
        async with self._http() as http:
            resp = await http.put("/v1/fs/file", params=params, content=body())
        if resp.status_code != 200:
            raise _http_error(resp)
        return FsWriteResult.model_validate(resp.json())

    # processes

    async def run(self, command: list[str] | str, **options: Any) -> ProcessRunResult:
        """Run to the end: a list is argv, a string a shell line. Options: cwd, env, stdin, timeout_s,
        max_output_bytes."""
        key = "shell" if isinstance(command, str) else "command"
        return ProcessRunResult.model_validate(await self.call("processes/run", {key: command, **options}))

    async def start_process(self, command: list[str] | str, **options: Any) -> str:
        key = "shell" if isinstance(command, str) else "command"
        return (await self.call("processes/start", {key: command, **options}))["process_id"]

    async def list_processes(self) -> list[ProcessInfo]:
        return [ProcessInfo.model_validate(p) for p in (await self.call("processes/list"))["processes"]]

    async def get_process(self, process_id: str) -> ProcessInfo:
        return ProcessInfo.model_validate(await self.call("processes/get", {"process_id": process_id}))

    async def kill_process(self, process_id: str, signal: str | int = "SIGTERM") -> bool:
        return (await self.call("processes/kill", {"process_id": process_id, "signal": signal}))["delivered"]

    async def process_input(self, process_id: str, data: bytes | str, eof: bool = False) -> int:
        params: dict[str, Any] = {"process_id": process_id, "eof": eof}
        if isinstance(data, str):
            params["data"] = data
        else:
            params["data_base64"] = base64.b64encode(data).decode()
        return (await self.call("processes/input", params))["bytes"]

    async def process_output(self, process_id: str, offset: int = 0, limit: int = 1024 * 1024) -> ProcessOutputResult:
        params = {"process_id": process_id, "offset": offset, "limit": limit}
        return ProcessOutputResult.model_validate(await self.call("processes/output", params))

    async def process_output_stream(self, process_id: str, offset: int = 0) -> AsyncIterator[OutputChunk]:
        """Output chunks from `offset` until the process exits; resumes by offset after a reconnect."""
        last = offset
        while True:
            try:
                r = await self.call("processes/subscribe", {"process_id": process_id, "offset": last})
            except ConnectionClosed:
                await self.reconnect()
                continue
            sub_id = r["subscription_id"]
            queue: asyncio.Queue[Any] = asyncio.Queue()
            for item in getattr(self, "_early", {}).pop(sub_id, []):
                queue.put_nowait(item)
            self._queues[sub_id] = queue
            try:
                while True:
                    item = await queue.get()
                    if not isinstance(item, tuple):  # the connection dropped
                        break
                    method, params = item
                    if method == "processes/exited":
                        return
                    if method != "processes/output":  # closed for overflow: resubscribe from where we are
                        break
                    chunk = OutputChunk(stream=params["stream"], offset=params["offset"], data=params["data"])
                    end = chunk.offset + len(chunk.data.encode())
                    if end <= last:
                        continue
                    last = end
                    yield chunk
            finally:
                self._queues.pop(sub_id, None)
            await self.reconnect()

    # terminals

    async def open_terminal(self, command: Iterable[str] | None = None, cols: int = 80, rows: int = 24,
                            **options: Any) -> TerminalOpenResult:
        params = {"command": list(command) if command is not None else None, "cols": cols, "rows": rows, **options}
        return TerminalOpenResult.model_validate(await self.call("terminals/open", params))

    async def resize_terminal(self, terminal_id: str, cols: int, rows: int) -> TerminalInfo:
        params = {"terminal_id": terminal_id, "cols": cols, "rows": rows}
        return TerminalInfo.model_validate(await self.call("terminals/resize", params))

    async def close_terminal(self, terminal_id: str) -> TerminalInfo:
        return TerminalInfo.model_validate(await self.call("terminals/close", {"terminal_id": terminal_id}))

    async def list_terminals(self) -> list[TerminalInfo]:
        return [TerminalInfo.model_validate(t) for t in (await self.call("terminals/list"))["terminals"]]

    async def terminal_socket(self, terminal_id: str) -> Any:
        """A websockets connection to the terminal: send bytes, receive bytes (the scrollback comes first)."""
        from websockets.asyncio.client import connect

        if self._http_base is None:
            raise RuntimeError("terminals need the HTTP server: use SandboxAgent.connect(url, token)")
        url = self._http_base.replace("http", "ws", 1) + f"/v1/terminals/{terminal_id}"
        return await connect(url, additional_headers=self._http_headers or {}, max_size=None)


def http_base(url: str) -> str:
    """The server's http(s) base from whatever URL `connect` was given."""
    base = url.rstrip("/")
    if base.endswith("/v1/rpc"):
        base = base[: -len("/v1/rpc")]
    if base.startswith("ws"):
        base = "http" + base[2:]
    return base


def _http_error(resp: Any) -> Exception:
    from ..rpc.errors import error_from_dict

    try:
        return error_from_dict(resp.json()["error"])
    except Exception:
        return RuntimeError(f"HTTP {resp.status_code}: {resp.text[:200]}")
