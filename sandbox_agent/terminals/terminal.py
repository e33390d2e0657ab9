"""One terminal: a PTY driven from the event loop (add_reader on the master fd and a pidfd; no threads).

Output goes into a bounded scrollback and to every attached viewer. A viewer attaches with a snapshot of the
scrollback taken in the same step as its registration, so a reconnect sees each byte once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal as signals
import time
import uuid
from collections import deque

from ..rpc.errors import AppError
from ..schema.errors import ErrorKind
from ..schema.terminals import TerminalInfo
from .pty_process import exit_fields, kill_session, set_size, spawn_on_pty

READ_SIZE = 64 * 1024
VIEWER_BACKLOG = 8 * 1024 * 1024  # a viewer this far behind is dropped (it can reconnect for the scrollback)
KILL_GRACE_S = 2.0
EXIT_POLL_S = 0.2


class Viewer:
    """One attached WebSocket: chunks to send, `None` when the terminal's output has ended."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.pending = 0
        self.dropped = False

    def put(self, data: bytes | None) -> None:
        if self.dropped:
            return
        if data is not None:
            self.pending += len(data)
            if self.pending > VIEWER_BACKLOG:
                self.dropped = True
                data = None
        self.queue.put_nowait(data)

    async def get(self) -> bytes | None:
        data = await self.queue.get()
        if data is not None:
            self.pending -= len(data)
        return data


class Scrollback:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.chunks: deque[bytes] = deque()
        self.size = 0

    def add(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        while self.size > self.cap:
            head = self.chunks.popleft()
            excess = self.size - self.cap
            if len(head) > excess:
                self.chunks.appendleft(head[excess:])
                self.size -= excess
            else:
                self.size -= len(head)

    def snapshot(self) -> bytes:
        return b"".join(self.chunks)


class Terminal:
    def __init__(
        self, argv: list[str], cwd: str, env: dict[str, str], cols: int, rows: int, scrollback: int
    ) -> None:
        self.id = "term_" + uuid.uuid4().hex[:12]
        self.argv, self.cwd, self.cols, self.rows = argv, cwd, cols, rows
        self.pid, self.master = spawn_on_pty(argv, cwd, env, cols, rows)
        self.created_at = time.time()
        self.scrollback = Scrollback(scrollback)
        self.viewers: set[Viewer] = set()
        self.exit_code: int | None = None
        self.signal: int | None = None
        self.exited = asyncio.Event()
        self.output_ended = False
        self._loop = asyncio.get_running_loop()
        self._write_lock = asyncio.Lock()
        self._loop.add_reader(self.master, self._on_readable)
        try:
            self._pidfd = os.pidfd_open(self.pid)
            self._loop.add_reader(self._pidfd, self._on_exit)
        except OSError:  # kernels before 5.3 (and some sandboxes' syscall filters): poll for the exit instead
            self._pidfd = -1
            self._loop.call_later(EXIT_POLL_S, self._poll_exit)

    @property
    def running(self) -> bool:
        return not self.exited.is_set()

    def info(self) -> TerminalInfo:
        return TerminalInfo(
            terminal_id=self.id,
            pid=self.pid,
            command=self.argv,
            cwd=self.cwd,
            cols=self.cols,
            rows=self.rows,
            status="running" if self.running else "exited",
            exit_code=self.exit_code,
            signal=self.signal,
            created_at=self.created_at,
            clients=len(self.viewers),
            scrollback_bytes=self.scrollback.size,
        )

    # output

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: every slave fd is closed, nothing more will come
            data = b""
        if not data:
            self._end_output()
            return
        self.scrollback.add(data)
        for viewer in self.viewers:
            viewer.put(data)

    def _end_output(self) -> None:
        if self.output_ended:
            return
        self.output_ended = True
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self.master)
        for viewer in self.viewers:
            viewer.put(None)

    def _on_exit(self) -> None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 0
        if pid == 0:
            return
        if self._pidfd >= 0:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1
        self.exit_code, self.signal = exit_fields(status)
        self.exited.set()

    def _poll_exit(self) -> None:
        self._on_exit()
        if self.running:
            self._loop.call_later(EXIT_POLL_S, self._poll_exit)

    def attach(self) -> tuple[bytes, Viewer]:
        viewer = Viewer()
        backlog = self.scrollback.snapshot()
        if self.output_ended:
            viewer.put(None)
        self.viewers.add(viewer)
        return backlog, viewer

    def detach(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)

    # input and control

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        async with self._write_lock:
            while view:
                if self.master < 0:
                    raise AppError(ErrorKind.PROCESS_EXITED, f"terminal {self.id} is closed", terminal_id=self.id)
                try:
                    view = view[os.write(self.master, view) :]
                except BlockingIOError:
                    await self._writable()
                except OSError as exc:
                    if exc.errno != errno.EIO:
                        raise
                    raise AppError(
                        ErrorKind.PROCESS_EXITED, f"terminal {self.id} has exited", terminal_id=self.id
                    ) from None

    async def _writable(self) -> None:
        ready: asyncio.Future[None] = self._loop.create_future()

        def on_writable() -> None:
            self._loop.remove_writer(self.master)
            if not ready.done():
                ready.set_result(None)

        self._loop.add_writer(self.master, on_writable)
        try:
            await ready
        finally:
            if self.master >= 0:
                self._loop.remove_writer(self.master)

    def resize(self, cols: int, rows: int) -> None:
        if self.master < 0:
            raise AppError(ErrorKind.PROCESS_EXITED, f"terminal {self.id} is closed", terminal_id=self.id)
        set_size(self.master, cols, rows)  # the kernel sends SIGWINCH to the foreground process group
        self.cols, self.rows = cols, rows
        if self.running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signals.SIGWINCH)  # and the shell's own group, in case it is not in front

    async def close(self) -> None:
        """SIGHUP to every process of the terminal's session, SIGKILL to what is left after a grace period."""
        if self.running:
            kill_session(self.pid, signals.SIGHUP)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exited.wait(), KILL_GRACE_S)
        kill_session(self.pid, signals.SIGKILL)
        if self.running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exited.wait(), KILL_GRACE_S)
        self.release()

    def release(self) -> None:
        """Give back the fds (the processes are gone or being killed); viewers see the end of output."""
        self._end_output()
        if self._pidfd >= 0:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
