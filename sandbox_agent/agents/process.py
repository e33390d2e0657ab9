"""Supervision of one agent child process: spawn, stdout lines to a callback, stderr head/tail, stop.

Lines are split inside the pipe protocol's callback and handed to the adapter synchronously: no stream
reader or async generator per line, which measured as the largest cost of a busy session after the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Sequence

from ..rpc.framing import Line, LineSplitter, OversizedLine
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

    def add(self, line: Line) -> None:
        text = f"<{line.size} bytes omitted>" if isinstance(line, OversizedLine) else line.decode("utf-8", "replace")
        self.total += 1
        if len(self.head) < self._head_max:
            self.head.append(text.rstrip("\r"))
        else:
            self.tail.append(text.rstrip("\r"))

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


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, on_line: Callable[[Line], None], stderr: StderrCapture, max_line: int) -> None:
        self.stdout = LineSplitter(on_line, max_line)
        self.stderr = LineSplitter(stderr.add, max_line)
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = loop.create_future()
        self._open_pipes = {1, 2}
        self.pipes_closed: asyncio.Future[None] = loop.create_future()
        self.writable = asyncio.Event()
        self.writable.set()
        self.transport: asyncio.SubprocessTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        try:
            (self.stdout if fd == 1 else self.stderr).feed(data)
        except Exception:  # an adapter bug must not kill the pipe
            log.exception("error while handling agent output")

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd in self._open_pipes:
            (self.stdout if fd == 1 else self.stderr).end()
            self._open_pipes.discard(fd)
            if not self._open_pipes and not self.pipes_closed.done():
                self.pipes_closed.set_result(None)
        if fd == 0:
            self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def process_exited(self) -> None:
        assert self.transport is not None
        if not self.exited.done():
            self.exited.set_result(self.transport.get_returncode() or 0)


class AgentProcess:
    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: str,
        on_line: Callable[[Line], None],
        max_line: int = 64 * 1024 * 1024,
    ) -> None:
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.stderr = StderrCapture()
        self._on_line = on_line
        self._max_line = max_line
        self._transport: asyncio.SubprocessTransport | None = None
        self._proto: _Protocol | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, self._proto = await loop.subprocess_exec(
            lambda: _Protocol(self._on_line, self.stderr, self._max_line),
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,  # its own process group, so stop() reaches the whole tree
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    @property
    def pid(self) -> int | None:
        return self._transport.get_pid() if self._transport else None

    @property
    def running(self) -> bool:
        return self._proto is not None and not self._proto.exited.done()

    async def write_line(self, data: bytes) -> None:
        if self._transport is None or self._proto is None or not self.running:
            raise ConnectionError("the agent process is not running")
        pipe = self._transport.get_pipe_transport(0)
        if pipe is None or pipe.is_closing():
            raise ConnectionError("the agent closed its stdin")
        pipe.write(data + b"\n")  # type: ignore[attr-defined]
        await self._proto.writable.wait()

    async def wait(self) -> int:
        """Exit code, once the process has exited and all of its output has been handled."""
        assert self._proto is not None
        code = await self._proto.exited
        with contextlib.suppress(TimeoutError):
            # a grandchild may hold the pipes open; do not wait for it forever
            await asyncio.wait_for(asyncio.shield(self._proto.pipes_closed), 2)
        return code

    def signal(self, sig: int) -> None:
        pid = self.pid
        if pid is None or not self.running:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)

    async def stop(self, grace: float = 3.0) -> int | None:
        """Close stdin, SIGTERM the process group, SIGKILL after `grace` seconds."""
        if self._transport is None or self._proto is None:
            return None
        if self.running:
            pipe = self._transport.get_pipe_transport(0)
            if pipe is not None:
                pipe.close()
            self.signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self._proto.exited), grace)
            except TimeoutError:
                self.signal(signal.SIGKILL)
        code = await self.wait()
        self._transport.close()
        return code
