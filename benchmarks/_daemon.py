"""A real `sandbox-agent server` for the overhead benchmarks, driven over raw WebSocket JSON-RPC, and the paired
A/B runner the real-agent benchmarks share: one direct turn and one daemon turn per round, alternating which goes
first, so the noise of a shared machine lands on both sides alike."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _peer import cpu_seconds
from websockets.asyncio.client import connect

from sandbox_agent.testing import FakeLLM, Reply

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0  # seconds for the server to say where it listens
TURN_TIMEOUT = 120.0  # seconds for one turn on either side; a hung agent ends the run instead of the machine's day
WARMUP = 2  # untimed turns on each side before the timed rounds; the first turns pay for start-up
SETTLE = 0.2  # seconds of quiet before each turn (see paired_turns)

PAIRED_HELP = f"""How the real-agent benchmarks pair their turns, and what they print:
- Both sides start first and stay up: (a) the agent driven directly and (b) a `sandbox-agent server` session on
  the same agent, both against one fake provider. Each side takes {WARMUP} untimed warm-up turns; then each of --turns
  rounds times one direct and one daemon turn, the direct one first in even rounds and the daemon one in odd
  rounds, so the noise of a shared machine falls on both sides alike. Every turn is bounded ({TURN_TIMEOUT:.0f} s)
  and follows {SETTLE} s of quiet, outside the timing (Claude Code works on for ~40 ms after its result).
- (a), (b): the median turn time of each side.
- added by the daemon: the median over rounds of (daemon turn - direct turn in the same round), and the
  interquartile range of those paired differences.
- daemon process CPU per turn: utime+stime of the server process from /proc/<pid>/stat (its threads, not its
  agent child; 10 ms ticks, so read it over many turns), summed around each timed daemon turn and divided by
  the rounds; then the same over all timed rounds, which adds work finished after a reply and idle time.
- load average: os.getloadavg() before the first and after the last timed round.
"""

Turn = Callable[[int], Awaitable[object]]  # one whole turn for message number n


class DaemonUnderTest:
    """`async with DaemonUnderTest() as d: await d.call(...)`; `on_event` sees every `sessions/event` param."""

    def __init__(self, on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.on_event = on_event
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def __aenter__(self) -> DaemonUnderTest:
        self.server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sandbox_agent",
            "server",
            "--port",
            "0",
            "--no-token",
            "--state-dir",
            tempfile.mkdtemp(),
            "--log-level",
            "warning",
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        assert self.server.stderr is not None
        port = 0
        async with asyncio.timeout(START_TIMEOUT):
            while not port:
                line = (await self.server.stderr.readline()).decode()
                if not line:
                    raise RuntimeError("the server did not start")
                if "listening on" in line:
                    port = int(line.rsplit(":", 1)[1])
        self.ws = await connect(f"ws://127.0.0.1:{port}/v1/rpc", compression=None, max_size=None)
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg:
                self._pending.pop(msg["id"]).set_result(msg)
            elif msg.get("method") == "sessions/event" and self.on_event is not None:
                self.on_event(msg["params"])

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        i = next(self._ids)
        self._pending[i] = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}))
        reply = await self._pending[i]
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    async def prompt(self, session_id: str, n: int) -> Any:
        """One whole turn: `sessions/prompt` returns when the turn has ended."""
        return await self.call("sessions/prompt", {"session_id": session_id, "message": f"question {n}"})

    async def timed_turns(
        self,
        session_id: str,
        fake: FakeLLM,
        reply: Reply,
        turns: int,
        warmup: int = 2,
        before: Callable[[], None] | None = None,
    ) -> list[float]:
        """Seconds per `sessions/prompt` round trip, after `warmup` untimed turns."""
        times = []
        for n in range(turns + warmup):
            fake.enqueue(reply)
            if before is not None:
                before()
            t0 = time.perf_counter()
            await self.prompt(session_id, n)
            if n >= warmup:
                times.append(time.perf_counter() - t0)
        return times

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        self._reader.cancel()
        self.server.terminate()
        await self.server.wait()


async def close_agent(proc: asyncio.subprocess.Process) -> None:
    """End a directly driven agent the way a client would (close its stdin), killing it if it lingers."""
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def median_and_iqr(values: list[float]) -> tuple[float, float, float]:
    """(median, first quartile, third quartile); the quartiles stay inside the data for small samples."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q2, q1, q3


def _load(averages: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in averages)


@dataclass
class PairedRun:
    """Seconds per timed turn on each side, paired by round, and what the machine was doing meanwhile."""

    direct: list[float] = field(default_factory=list)
    daemon: list[float] = field(default_factory=list)
    daemon_cpu: float = 0.0  # server-process CPU seconds summed over the timed daemon turns
    daemon_cpu_phase: float = 0.0  # the same over all timed rounds: adds work done after a reply, and idle time
    load_start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_end: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def report(self, title: str, direct_label: str, daemon_label: str) -> list[str]:
        ms = 1000.0
        rounds = len(self.direct)
        added, q1, q3 = median_and_iqr([b - a for a, b in zip(self.direct, self.daemon, strict=True)])
        return [
            f"{title}: {rounds} rounds of one direct and one daemon turn, alternating which goes first "
            f"(after {WARMUP} untimed warm-up turns on each side)",
            f"  (a) {direct_label:34s} {statistics.median(self.direct) * ms:7.1f} ms median",
            f"  (b) {daemon_label:34s} {statistics.median(self.daemon) * ms:7.1f} ms median",
            f"  added by the daemon (median of paired differences) {added * ms:7.2f} ms per turn, "
            f"IQR {q1 * ms:.2f} .. {q3 * ms:.2f} ms",
            f"  daemon process CPU per turn (utime+stime, 10 ms ticks) {self.daemon_cpu / rounds * ms:6.2f} ms "
            f"during its turns, {self.daemon_cpu_phase / rounds * ms:.2f} ms over all timed rounds",
            f"  load average (1/5/15 min) at start {_load(self.load_start)}, at end {_load(self.load_end)}",
        ]


async def paired_turns(
    direct: Turn, daemon: Turn, enqueue: Callable[[], None], rounds: int, daemon_pid: int
) -> PairedRun:
    """`WARMUP` untimed turns on each side, then `rounds` rounds of one timed turn per side, the first side
    alternating. `enqueue` scripts the fake provider's next reply before each turn (outside the timing). The
    server process's CPU is read around each timed daemon turn, and once around all timed rounds (which also
    counts work it finishes after a reply, and whatever it spends idle while direct turns run)."""
    run = PairedRun(load_start=os.getloadavg())

    async def one(turn: Turn, n: int) -> float:
        enqueue()
        t0 = time.perf_counter()
        await asyncio.wait_for(turn(n), TURN_TIMEOUT)
        return time.perf_counter() - t0

    async def settle() -> None:
        # Claude Code keeps working for ~40 ms after its `result` line: a message sent at once waits for that,
        # one sent later does not. A pause before every timed turn times the warm turn a user sees (without it,
        # a side's turn was fast or slow by whether the other side ran in between: 15-30 vs 60-75 ms).
        await asyncio.sleep(SETTLE)

    async def on_direct(n: int) -> None:
        await settle()
        run.direct.append(await one(direct, n))

    async def on_daemon(n: int) -> None:
        await settle()
        cpu0 = cpu_seconds(daemon_pid)
        run.daemon.append(await one(daemon, n))
        run.daemon_cpu += cpu_seconds(daemon_pid) - cpu0

    for n in range(WARMUP):
        await one(direct, n)
        await one(daemon, n)
    phase0 = cpu_seconds(daemon_pid)
    for r in range(rounds):
        for side in (on_direct, on_daemon) if r % 2 == 0 else (on_daemon, on_direct):
            await side(WARMUP + r)
    run.daemon_cpu_phase = cpu_seconds(daemon_pid) - phase0
    run.load_end = os.getloadavg()
    return run
