"""The daemon's processes: limits, the table of background processes, and fan-out of their output."""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from dataclasses import dataclass

from ..rpc.connection import Connection, after_reply
from ..rpc.errors import AppError
from ..schema.errors import ErrorKind
from ..schema.processes import (
    OutputChunk,
    ProcessOutputResult,
    ProcessRunParams,
    ProcessRunResult,
    ProcessStartParams,
)
from .output import Chunk
from .process import ManagedProcess, spawn
from .run import run_command
from .subscribers import ProcessSubscription, encode

KEEP_EXITED = 64  # finished processes stay listed (with their output) until this many newer ones finish


@dataclass(frozen=True)
class ProcessLimits:
    """Set by flags: --max-processes, --max-process-output, --max-process-seconds."""

    max_processes: int = 64
    max_output_bytes: int = 1024 * 1024
    max_timeout_s: float = 3600.0


class ProcessManager:
    def __init__(self, limits: ProcessLimits | None = None, default_cwd: str | None = None) -> None:
        self.limits = limits or ProcessLimits()
        self.default_cwd = default_cwd or os.getcwd()
        self.processes: OrderedDict[str, ManagedProcess] = OrderedDict()
        self.subscriptions: dict[str, ProcessSubscription] = {}
        self._runs = 0

    @property
    def running(self) -> int:
        return self._runs + sum(1 for p in self.processes.values() if p.running)

    def _admit(self) -> None:
        if self.running >= self.limits.max_processes:
            raise AppError(
                ErrorKind.LIMIT_EXCEEDED,
                f"{self.running} processes are running, the limit is {self.limits.max_processes}",
                limit=self.limits.max_processes,
            )

    def _timeout(self, asked: float | None, default: float | None) -> float | None:
        if asked is not None and asked > self.limits.max_timeout_s:
            raise AppError(
                ErrorKind.LIMIT_EXCEEDED,
                f"timeout_s {asked} is over the limit of {self.limits.max_timeout_s} s",
                limit=self.limits.max_timeout_s,
            )
        return asked if asked is not None else default

    async def run(self, p: ProcessRunParams) -> ProcessRunResult:
        self._admit()
        cap = p.max_output_bytes if p.max_output_bytes is not None else self.limits.max_output_bytes
        if cap > self.limits.max_output_bytes:
            raise AppError(
                ErrorKind.LIMIT_EXCEEDED,
                f"max_output_bytes {cap} is over the limit of {self.limits.max_output_bytes}",
                limit=self.limits.max_output_bytes,
            )
        timeout = self._timeout(p.timeout_s, self.limits.max_timeout_s)
        assert timeout is not None
        stdin = p.stdin.encode() if p.stdin is not None else None
        self._runs += 1
        try:
            return await run_command(p.argv(), p.cwd or self.default_cwd, p.env, stdin, timeout, cap)
        finally:
            self._runs -= 1

    async def start(self, p: ProcessStartParams) -> ManagedProcess:
        self._admit()
        timeout = self._timeout(p.timeout_s, None)
        cwd = p.cwd or self.default_cwd
        proc = await spawn(p.argv(), cwd, p.env)
        managed = ManagedProcess(
            proc, p.argv(), cwd, self.limits.max_output_bytes, self._publish, self._exited, timeout
        )
        self.processes[managed.id] = managed
        if p.stdin:
            await managed.write(p.stdin.encode(), eof=False)
        return managed

    def get(self, process_id: str) -> ManagedProcess:
        found = self.processes.get(process_id)
        if found is None:
            raise AppError(ErrorKind.PROCESS_NOT_FOUND, f"no process {process_id!r}", process_id=process_id)
        return found

    def output(self, process_id: str, offset: int, limit: int, encoding: str) -> ProcessOutputResult:
        proc = self.get(process_id)
        if offset > proc.log.total:
            raise AppError(
                ErrorKind.INVALID_OFFSET,
                f"offset {offset} is past the end of the output ({proc.log.total})",
                next_offset=proc.log.total,
            )
        start, chunks = proc.log.read(offset, limit)
        end = chunks[-1].end if chunks else start
        joined = {"stdout": [], "stderr": []}  # type: dict[str, list[bytes]]
        for c in chunks:
            joined[c.stream].append(c.data)
        text = encoding == "text"
        return ProcessOutputResult(
            process_id=proc.id,
            offset=start,
            next_offset=end,
            dropped=start - offset,
            has_more=end < proc.log.total,
            encoding=encoding,  # type: ignore[arg-type]
            chunks=[OutputChunk(stream=c.stream, offset=c.offset, data=encode(c.data, encoding)) for c in chunks],  # type: ignore[arg-type]
            stdout=b"".join(joined["stdout"]).decode("utf-8", "replace") if text else "",
            stderr=b"".join(joined["stderr"]).decode("utf-8", "replace") if text else "",
            status="running" if proc.running else "exited",
            exit_code=proc.exit_code,
        )

    # subscriptions (scoped to one connection)

    def subscribe(self, conn: Connection, process_id: str | None, offset: int, encoding: str) -> str:
        proc = self.get(process_id) if process_id is not None else None
        if proc is not None and offset > proc.log.total:
            raise AppError(ErrorKind.INVALID_OFFSET, f"offset {offset} is past the end ({proc.log.total})")
        sub = ProcessSubscription(conn, process_id, encoding)

        def attach() -> None:  # after the result is sent; replay and registration in one step: no gap, no twice
            if proc is not None:
                for chunk in proc.log.read(offset, proc.log.cap + 1)[1]:
                    sub.chunk(proc.id, chunk)
                if not proc.running:
                    sub.exited(_exit_params(proc))
                    sub.close()
                    return
            self.subscriptions[sub.id] = sub

        after_reply(attach)
        return sub.id

    async def unsubscribe(self, subscription_id: str) -> None:
        sub = self.subscriptions.pop(subscription_id, None)
        if sub is None:
            raise AppError(
                ErrorKind.SUBSCRIPTION_NOT_FOUND, f"no process subscription {subscription_id!r}",
                subscription_id=subscription_id,
            )
        await sub.cancel()

    def _publish(self, proc: ManagedProcess, chunk: Chunk) -> None:
        for sub in self._live_subscribers(proc.id):
            sub.chunk(proc.id, chunk)

    def _exited(self, proc: ManagedProcess) -> None:
        for sub in self._live_subscribers(proc.id):
            sub.exited(_exit_params(proc))
            if sub.process_id == proc.id:  # a one-process subscription ends with its process
                self.subscriptions.pop(sub.id, None)
                sub.close()
        finished = [pid for pid, p in self.processes.items() if not p.running]
        for pid in finished[: max(0, len(finished) - KEEP_EXITED)]:
            del self.processes[pid]

    def _live_subscribers(self, process_id: str) -> list[ProcessSubscription]:
        for sid in [sid for sid, s in self.subscriptions.items() if s.closed or s.conn.closed]:
            self.subscriptions.pop(sid).close()
        return [s for s in self.subscriptions.values() if s.wants(process_id)]

    async def shutdown(self) -> None:
        await asyncio.gather(*(p.stop() for p in self.processes.values() if p.running), return_exceptions=True)
        await asyncio.gather(*(s.cancel() for s in self.subscriptions.values()), return_exceptions=True)
        self.subscriptions.clear()


def _exit_params(proc: ManagedProcess) -> dict[str, object]:
    return {"process_id": proc.id, "exit_code": proc.exit_code, "signal": proc.signal, "timed_out": proc.timed_out}
