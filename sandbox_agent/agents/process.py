"""Supervision of one agent child process: spawn, NDJSON stdout lines, stderr head/tail, stop."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections import deque
from collections.abc import AsyncIterator, Sequence

from ..rpc.framing import OversizedLine, read_lines
from ..schema.events import StderrSummary

log = logging.getLogger(__name__)

STDERR_HEAD_LINES = 20
STDERR_TAIL_LINES = 50


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, SIGKILL it if the daemon dies (even by kill -9)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


class StderrCapture:
    """Keeps the first and last lines of a stream and counts the rest."""

    def __init__(self, head: int = STDERR_HEAD_LINES, tail: int = STDERR_TAIL_LINES) -> None:
        self._head_max = head
        self.head: list[str] = []
        self.tail: deque[str] = deque(maxlen=tail)
        self.total = 0

    def add(self, line: str) -> None:
        self.total += 1
        if len(self.head) < self._head_max:
            self.head.append(line)
        else:
            self.tail.append(line)

    def summary(self) -> StderrSummary | None:
        if not self.total:
            return None
        shown = len(self.head) + len(self.tail)
        return StderrSummary(
            head="\n".join(self.head),
            tail="\n".join(self.tail),
            truncated=shown < self.total,
            total_lines=self.total,
        )


class AgentProcess:
    def __init__(self, argv: Sequence[str], env: dict[str, str], cwd: str, max_line: int = 64 * 1024 * 1024):
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.max_line = max_line
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr = StderrCapture()
        self._stderr_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,  # its own process group, so stop() reaches the whole tree
            limit=1024 * 1024,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self._stderr_task = asyncio.ensure_future(self._read_stderr())

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for line in read_lines(self.proc.stderr, self.max_line):
            if isinstance(line, OversizedLine):
                self.stderr.add(f"<{line.size} bytes omitted>")
            else:
                self.stderr.add(line.decode("utf-8", "replace").rstrip("\r"))

    async def lines(self) -> AsyncIterator[bytes | OversizedLine]:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in read_lines(self.proc.stdout, self.max_line):
            yield line

    async def write_line(self, data: bytes) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(data + b"\n")
        await self.proc.stdin.drain()

    async def wait(self) -> int:
        """Exit code once the process and its stderr are done."""
        assert self.proc is not None
        code = await self.proc.wait()
        if self._stderr_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stderr_task, 2)
        return code

    def signal(self, sig: int) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    async def stop(self, grace: float = 3.0) -> int | None:
        """SIGTERM the process group, SIGKILL after `grace` seconds."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
            self.signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except TimeoutError:
                self.signal(signal.SIGKILL)
        return await self.wait()
