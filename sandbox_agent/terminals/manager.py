"""The daemon's terminals: open, find, list and close them; they live on when their WebSocket goes."""

from __future__ import annotations

import asyncio
import os
import shutil

from ..rpc.errors import AppError
from ..schema.errors import ErrorKind
from ..schema.terminals import TerminalOpenParams
from .terminal import Terminal

MAX_TERMINALS = 32
KEEP_EXITED = 32
SCROLLBACK_BYTES = 256 * 1024


def default_shell() -> list[str]:
    shell = os.environ.get("SHELL")
    if shell and os.access(shell, os.X_OK):
        return [shell]
    return [shutil.which("bash") or "/bin/sh"]


class TerminalManager:
    def __init__(self, default_cwd: str | None = None, scrollback: int = SCROLLBACK_BYTES) -> None:
        self.default_cwd = default_cwd or os.getcwd()
        self.scrollback = scrollback
        self.terminals: dict[str, Terminal] = {}

    def open(self, p: TerminalOpenParams) -> Terminal:
        running = sum(1 for t in self.terminals.values() if t.running)
        if running >= MAX_TERMINALS:
            raise AppError(ErrorKind.LIMIT_EXCEEDED, f"{running} terminals are open", limit=MAX_TERMINALS)
        exited = [tid for tid, t in self.terminals.items() if not t.running]
        for tid in exited[: max(0, len(exited) - KEEP_EXITED + 1)]:  # exited ones stay listed, within bounds
            self.terminals.pop(tid).release()
        env = {**os.environ, "TERM": "xterm-256color", **(p.env or {})}
        term = Terminal(p.command or default_shell(), p.cwd or self.default_cwd, env, p.cols, p.rows, self.scrollback)
        self.terminals[term.id] = term
        return term

    def get(self, terminal_id: str) -> Terminal:
        term = self.terminals.get(terminal_id)
        if term is None:
            raise AppError(ErrorKind.TERMINAL_NOT_FOUND, f"no terminal {terminal_id!r}", terminal_id=terminal_id)
        return term

    async def close(self, terminal_id: str) -> Terminal:
        term = self.get(terminal_id)
        await term.close()
        self.terminals.pop(terminal_id, None)
        return term

    async def shutdown(self) -> None:
        await asyncio.gather(*(t.close() for t in self.terminals.values()), return_exceptions=True)
        self.terminals.clear()
