"""`processes/run`: run a command to its end, with a timeout for the whole process group and capped output."""

from __future__ import annotations

import asyncio
import contextlib
import signal as signals
import time

from ..schema.processes import ProcessRunResult
from .process import PIPE_GRACE_S, exit_fields, kill_group, pump, spawn


class _Capped:
    """The first `cap` bytes of a stream; the rest is counted and dropped, so a chatty command cannot eat memory."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[bytes] = []
        self.kept = 0
        self.truncated = False

    def add(self, data: bytes) -> None:
        room = self.cap - self.kept
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        if data:
            self.parts.append(data)
            self.kept += len(data)

    def text(self) -> str:
        return b"".join(self.parts).decode("utf-8", "replace")


async def run_command(
    argv: list[str], cwd: str, env: dict[str, str] | None, stdin: bytes | None, timeout_s: float, cap: int
) -> ProcessRunResult:
    started = time.monotonic()
    proc = await spawn(argv, cwd, env)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out, err = _Capped(cap), _Capped(cap)
    pumps = [asyncio.ensure_future(pump(proc.stdout, out.add)), asyncio.ensure_future(pump(proc.stderr, err.add))]
    feeder = asyncio.ensure_future(_feed(proc.stdin, stdin))
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            timed_out = True
            kill_group(proc.pid, signals.SIGKILL)
            await proc.wait()
        await asyncio.wait(pumps, timeout=PIPE_GRACE_S)
    finally:
        # What the command left behind in its group (a `cmd &` it did not wait for) ends with it.
        kill_group(proc.pid, signals.SIGKILL)
        for task in (*pumps, feeder):
            task.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    exit_code, sig = exit_fields(proc.returncode)
    return ProcessRunResult(
        exit_code=exit_code,
        signal=sig,
        stdout=out.text(),
        stderr=err.text(),
        truncated=out.truncated or err.truncated,
        timed_out=timed_out,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )


async def _feed(stdin: asyncio.StreamWriter, data: bytes | None) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        if data:
            stdin.write(data)
            await stdin.drain()
        stdin.close()
