"""MCP tools over files and processes, so an orchestrating agent can check a coding agent's work itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server import MCPServer
from pydantic import BaseModel, Field

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


class CommandResult(BaseModel):
    exit_code: int | None
    signal: int | None = None
    stdout: str
    stderr: str
    truncated: bool
    timed_out: bool
    duration_ms: float


class FileText(BaseModel):
    path: str
    size: int
    text: str | None = Field(default=None, description="None for a binary file")
    binary: bool = False
    truncated: bool = Field(default=False, description="only part of the file was read (see size)")


class FileWritten(BaseModel):
    path: str
    size: int


def register_host_tools(server: MCPServer, call: Call) -> None:
    @server.tool(
        description="Run a shell command inside the sandbox and wait for it (e.g. the test suite). The whole "
        "process group is killed at the timeout; output past max_output_bytes per stream is dropped."
    )
    async def run_command(
        command: str = Field(description="a /bin/sh command line"),
        cwd: str | None = Field(default=None, description="working directory (default: the daemon's)"),
        timeout_s: float = Field(default=300, gt=0),
        max_output_bytes: int = Field(default=64 * 1024, ge=0, description="per stream"),
    ) -> CommandResult:
        params: dict[str, Any] = {"shell": command, "timeout_s": timeout_s, "max_output_bytes": max_output_bytes}
        if cwd is not None:
            params["cwd"] = cwd
        return CommandResult.model_validate(await call("processes/run", params))

    @server.tool(description="Read a text file inside the sandbox's file roots (up to max_bytes from offset).")
    async def read_file(
        path: str,
        offset: int = Field(default=0, ge=0),
        max_bytes: int = Field(default=256 * 1024, ge=1, le=8 * 1024 * 1024),
    ) -> FileText:
        r = await call("fs/read", {"path": path, "offset": offset, "length": max_bytes})
        truncated = offset + r["length"] < r["size"]
        if r["encoding"] != "utf-8":
            return FileText(path=r["path"], size=r["size"], binary=True, truncated=truncated)
        return FileText(path=r["path"], size=r["size"], text=r["text"], truncated=truncated)

    @server.tool(description="Write a text file (atomically) inside the sandbox's file roots.")
    async def write_file(path: str, text: str, create_dirs: bool = True) -> FileWritten:
        r = await call("fs/write", {"path": path, "text": text, "create_dirs": create_dirs})
        return FileWritten(path=r["path"], size=r["size"])
