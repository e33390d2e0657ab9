"""Spawning commands in their own process group, and one background process with bounded, offset-addressed output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal as signals
import time
import uuid
from collections.abc import Callable

from ..rpc.errors import INVALID_PARAMS, AppError, RpcError
from ..schema.errors import ErrorKind
from ..schema.processes import ProcessInfo
from .output import Chunk, OutputLog

READ_SIZE = 64 * 1024
PIPE_GRACE_S = 1.0  # how long pipes may stay open after the leader exits (a grandchild holding them)


async def spawn(argv: list[str], cwd: str, env: dict[str, str] | None) -> asyncio.subprocess.Process:
    """Start `argv` as the leader of a new session/process group, so a signal to the group reaches all it forks."""
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env={**os.environ, **env} if env else None,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        missing = cwd if not os.path.isdir(cwd) else argv[0]
        msg = f"cannot start {argv[0]!r}: {missing!r} not found"
        raise AppError(ErrorKind.SPAWN_FAILED, msg, errno=exc.errno) from None
    except OSError as exc:
        msg = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
        raise AppError(ErrorKind.SPAWN_FAILED, msg, errno=exc.errno) from None


def kill_group(pid: int, sig: int) -> bool:
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def parse_signal(value: str | int) -> signals.Signals:
    try:
        if isinstance(value, int):
            return signals.Signals(value)
        name = value.strip().upper()
        if name.isdigit():
            return signals.Signals(int(name))
        return signals.Signals[name if name.startswith("SIG") else "SIG" + name]
    except (KeyError, ValueError):
        raise RpcError(INVALID_PARAMS, "Invalid params", {"detail": f"unknown signal {value!r}"}) from None


def exit_fields(returncode: int | None) -> tuple[int | None, int | None]:
    """(exit_code, signal) from asyncio's returncode, where -N means killed by signal N."""
    if returncode is None:
        return None, None
    return (None, -returncode) if returncode < 0 else (returncode, None)


async def pump(stream: asyncio.StreamReader, on_data: Callable[[bytes], None]) -> None:
    while data := await stream.read(READ_SIZE):
        on_data(data)


class ManagedProcess:
    """A background process: output into an `OutputLog`, announced through `on_chunk`, exit through `on_exit`."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        argv: list[str],
        cwd: str,
        output_cap: int,
        on_chunk: Callable[[ManagedProcess, Chunk], None],
        on_exit: Callable[[ManagedProcess], None],
        timeout_s: float | None,
    ) -> None:
        self.id = "proc_" + uuid.uuid4().hex[:12]
        self.proc = proc
        self.pid = proc.pid
        self.argv = argv
        self.cwd = cwd
        self.log = OutputLog(output_cap)
        self.started_at = time.time()
        self.ended_at: float | None = None
        self.exit_code: int | None = None
        self.signal: int | None = None
        self.timed_out = False
        self._on_chunk = on_chunk
        self._on_exit = on_exit
        self._timeout_s = timeout_s
        self.done = asyncio.Event()
        self._task = asyncio.ensure_future(self._supervise())

    @property
    def running(self) -> bool:
        return not self.done.is_set()

    def info(self) -> ProcessInfo:
        return ProcessInfo(
            process_id=self.id,
            pid=self.pid,
            command=self.argv,
            cwd=self.cwd,
            status="running" if self.running else "exited",
            exit_code=self.exit_code,
            signal=self.signal,
            timed_out=self.timed_out,
            started_at=self.started_at,
            ended_at=self.ended_at,
            output_bytes=self.log.total,
        )

    def _emit(self, stream: str) -> Callable[[bytes], None]:
        def on_data(data: bytes) -> None:
            self._on_chunk(self, self.log.append(stream, data))

        return on_data

    async def _supervise(self) -> None:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        pumps = [
            asyncio.ensure_future(pump(self.proc.stdout, self._emit("stdout"))),
            asyncio.ensure_future(pump(self.proc.stderr, self._emit("stderr"))),
        ]
        try:
            try:
                await asyncio.wait_for(self.proc.wait(), self._timeout_s)
            except TimeoutError:
                self.timed_out = True
                kill_group(self.pid, signals.SIGKILL)
                await self.proc.wait()
            _, late = await asyncio.wait(pumps, timeout=PIPE_GRACE_S)
            for task in late:  # something the leader forked still holds the pipes: stop listening
                task.cancel()
        finally:
            for task in pumps:
                task.cancel()
            self.exit_code, self.signal = exit_fields(self.proc.returncode)
            self.ended_at = time.time()
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.done.set()
            self._on_exit(self)

    async def write(self, data: bytes, eof: bool) -> int:
        stdin = self.proc.stdin
        if not self.running or stdin is None or stdin.is_closing():
            raise AppError(ErrorKind.PROCESS_EXITED, f"process {self.id} is not accepting input", process_id=self.id)
        try:
            stdin.write(data)
            await asyncio.wait_for(stdin.drain(), 10)
            if eof:
                stdin.close()
        except TimeoutError:
            msg = f"process {self.id} is not reading its stdin"
            raise AppError(ErrorKind.TIMEOUT, msg, process_id=self.id) from None
        except (BrokenPipeError, ConnectionResetError):
            msg = f"process {self.id} closed its stdin"
            raise AppError(ErrorKind.PROCESS_EXITED, msg, process_id=self.id) from None
        return len(data)

    def kill(self, sig: int) -> bool:
        return self.running and kill_group(self.pid, sig)

    async def stop(self) -> None:
        """Daemon shutdown: the whole group goes, at once."""
        kill_group(self.pid, signals.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.done.wait(), 5)
