"""The client side of ACP's `fs/*` and `terminal/*` for one session, confined to the session's cwd.

An ACP agent may ask its client to read and write files and to run commands (so an editor can show unsaved
buffers and live terminals). We answer inside the session's working directory only: a path that resolves
(symlinks included) outside it is refused with a JSON-RPC error the agent can show, never served.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from acp import RequestError
from acp import schema as S

from ...sessions.clock import new_id
from ..env import child_env

DEFAULT_OUTPUT_LIMIT = 1024 * 1024
MAX_TERMINALS = 32


class Workspace:
    """Files under one root."""

    def __init__(self, root: str) -> None:
        self.root = Path(root).resolve()

    def confine(self, path: str) -> Path:
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        resolved = p.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise RequestError.invalid_params(
                {"kind": "path_outside_roots", "path": path, "root": str(self.root)},
            )
        return resolved

    def read(self, path: str, line: int | None, limit: int | None) -> S.ReadTextFileResponse:
        target = self.confine(path)
        try:
            text = target.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise RequestError.resource_not_found(str(target)) from None
        except OSError as exc:
            raise RequestError.internal_error({"path": str(target), "error": str(exc)}) from None
        if line is not None or limit is not None:
            lines = text.splitlines(keepends=True)
            start = max((line or 1) - 1, 0)
            text = "".join(lines[start : start + limit] if limit is not None else lines[start:])
        return S.ReadTextFileResponse(content=text)

    def write(self, path: str, content: str) -> S.WriteTextFileResponse:
        target = self.confine(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        except OSError as exc:
            raise RequestError.internal_error({"path": str(target), "error": str(exc)}) from None
        return S.WriteTextFileResponse()


@dataclass
class Terminal:
    proc: asyncio.subprocess.Process
    limit: int
    output: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    reader: asyncio.Task[None] | None = None

    def add(self, data: bytes) -> None:
        self.output += data
        if len(self.output) > self.limit:
            # keep the newest bytes, cut at a character boundary (ACP asks for valid text)
            cut = len(self.output) - self.limit
            while cut < len(self.output) and (self.output[cut] & 0xC0) == 0x80:
                cut += 1
            del self.output[:cut]
            self.truncated = True

    def status(self) -> S.TerminalExitStatus | None:
        code = self.proc.returncode
        if code is None:
            return None
        if code < 0:
            return S.TerminalExitStatus(exit_code=None, signal=signal.Signals(-code).name)
        return S.TerminalExitStatus(exit_code=code)


class Terminals:
    """Commands an agent runs through us, each with a bounded output buffer."""

    def __init__(self, workspace: Workspace, env: dict[str, str]) -> None:
        self.workspace = workspace
        self.env = env
        self.terminals: dict[str, Terminal] = {}
        self.released: dict[str, tuple[str, int | None]] = {}  # output of released terminals, for tool items

    def _get(self, terminal_id: str) -> Terminal:
        term = self.terminals.get(terminal_id)
        if term is None:
            raise RequestError.resource_not_found(terminal_id)
        return term

    async def create(
        self, command: str, args: list[str] | None, env: list[S.EnvVariable] | None, cwd: str | None, limit: int | None
    ) -> S.CreateTerminalResponse:
        if len(self.terminals) >= MAX_TERMINALS:
            raise RequestError.internal_error({"details": f"at most {MAX_TERMINALS} terminals per session"})
        workdir = self.workspace.confine(cwd) if cwd else self.workspace.root
        extra = {e.name: e.value for e in env or []}
        argv = [command, *(args or [])] if args else ["/bin/sh", "-c", command]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=str(workdir),
                env=child_env(self.env, extra),
                start_new_session=True,
            )
        except OSError as exc:
            raise RequestError.internal_error({"command": command, "error": str(exc)}) from None
        term = Terminal(proc, limit if limit is not None else DEFAULT_OUTPUT_LIMIT)
        term.reader = asyncio.ensure_future(self._pump(term))
        terminal_id = new_id("term_")
        self.terminals[terminal_id] = term
        return S.CreateTerminalResponse(terminal_id=terminal_id)

    @staticmethod
    async def _pump(term: Terminal) -> None:
        assert term.proc.stdout is not None
        while chunk := await term.proc.stdout.read(65536):
            term.add(chunk)
        await term.proc.wait()

    def output(self, terminal_id: str) -> S.TerminalOutputResponse:
        term = self._get(terminal_id)
        return S.TerminalOutputResponse(
            output=term.output.decode("utf-8", "replace"), truncated=term.truncated, exit_status=term.status()
        )

    def snapshot(self, terminal_id: str) -> tuple[str, int | None] | None:
        """Output and exit code for the translator (None when the terminal is unknown)."""
        term = self.terminals.get(terminal_id)
        if term is None:
            return self.released.get(terminal_id)
        status = term.status()
        return term.output.decode("utf-8", "replace"), status.exit_code if status else None

    async def wait(self, terminal_id: str) -> S.WaitForTerminalExitResponse:
        term = self._get(terminal_id)
        if term.reader is not None:
            await asyncio.shield(term.reader)
        status = term.status() or S.TerminalExitStatus()
        return S.WaitForTerminalExitResponse(exit_code=status.exit_code, signal=status.signal)

    def kill(self, terminal_id: str) -> S.KillTerminalResponse:
        term = self._get(terminal_id)
        if term.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(term.proc.pid, signal.SIGKILL)
        return S.KillTerminalResponse()

    def release(self, terminal_id: str) -> S.ReleaseTerminalResponse:
        snapshot = self.snapshot(terminal_id)
        self.kill(terminal_id)
        self.terminals.pop(terminal_id)
        if snapshot is not None:
            self.released[terminal_id] = snapshot
        return S.ReleaseTerminalResponse()

    async def close(self) -> None:
        for terminal_id in list(self.terminals):
            with contextlib.suppress(Exception):
                self.kill(terminal_id)
        readers = [t.reader for t in self.terminals.values() if t.reader is not None]
        if readers:
            await asyncio.wait(readers, timeout=2)
        self.terminals.clear()
