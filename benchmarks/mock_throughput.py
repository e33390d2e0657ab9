"""Mock-agent throughput of a real `sandbox-agent server`, driven over raw WebSocket JSON-RPC on loopback.

Prints: cold start to healthy, idle RSS, RSS with 100 sessions, sequential prompts/s (one client), prompts/s
with 20 concurrent sessions, p50/p99 prompt latency — each the median of --runs runs — and the ratio to the
Rust original's figures measured on these machines (../shared/PEER.md: 2,654 and 3,697 prompts/s).

One of our prompts is a whole turn (9 journaled events: turn.started, the user item, a streamed reply in three
deltas, turn.ended); the Rust mock echoes one notification. `--subscribe` also streams every event to the client.

    python benchmarks/mock_throughput.py [--seconds 5] [--runs 3] [--subscribe]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.asyncio.client import connect

PEER_SEQUENTIAL = 2654
PEER_CONCURRENT = 3697
ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


class Server:
    def __init__(self, state: str) -> None:
        self.state = state
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> float:
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sandbox_agent",
                "server",
                "--port",
                "0",
                "--no-token",
                "--state-dir",
                self.state,
                "--log-level",
                "warning",
            ],
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        assert self.proc.stderr is not None
        while True:
            line = self.proc.stderr.readline().decode()
            if not line:
                raise RuntimeError("server died")
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/health", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.002)

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(20)


class Rpc:
    def __init__(self, ws: object) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.events = 0
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:  # type: ignore[attr-defined]
            msg = json.loads(raw)
            if "id" in msg:
                self.pending.pop(msg["id"]).set_result(msg)
            else:
                self.events += 1

    async def call(self, method: str, params: dict) -> dict:
        i = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.pending[i] = fut
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}))  # type: ignore[attr-defined]
        reply = await fut
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]


async def open_rpc(port: int) -> Rpc:
    ws = await connect(f"ws://127.0.0.1:{port}/v1/rpc", compression=None, max_size=None)
    return Rpc(ws)


async def prompt_loop(rpc: Rpc, sid: str, until: float, latencies: list[float]) -> int:
    n = 0
    while time.perf_counter() < until:
        t0 = time.perf_counter()
        await rpc.call("sessions/prompt", {"session_id": sid, "message": f"hello {n}"})
        latencies.append(time.perf_counter() - t0)
        n += 1
    return n


async def one_run(seconds: float, subscribe: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        server = Server(state)
        cold = server.start()
        assert server.proc is not None
        await asyncio.sleep(0.5)
        idle = rss_mb(server.proc.pid)
        try:
            rpc = await open_rpc(server.port)
            fresh = [(await rpc.call("sessions/create", {"agent": "mock"}))["session_id"] for _ in range(100)]
            await asyncio.sleep(0.5)
            server_100 = rss_mb(server.proc.pid)
            kids = children(server.proc.pid)
            per_child = statistics.median(rss_mb(k) for k in kids) if kids else 0.0
            for sid in fresh:
                await rpc.call("sessions/terminate", {"session_id": sid})
            sid = (await rpc.call("sessions/create", {"agent": "mock"}))["session_id"]
            if subscribe:
                await rpc.call("sessions/subscribe", {"session_id": sid})
            await prompt_loop(rpc, sid, time.perf_counter() + 0.5, [])  # warm-up
            seq_lat: list[float] = []
            t0 = time.perf_counter()
            n = await prompt_loop(rpc, sid, t0 + seconds, seq_lat)
            sequential = n / (time.perf_counter() - t0)

            conns = [await open_rpc(server.port) for _ in range(20)]
            sids = [(await c.call("sessions/create", {"agent": "mock"}))["session_id"] for c in conns]
            if subscribe:
                for c, s in zip(conns, sids, strict=True):
                    await c.call("sessions/subscribe", {"session_id": s})
            lat: list[float] = []
            warm = time.perf_counter() + 0.5
            await asyncio.gather(*(prompt_loop(c, s, warm, []) for c, s in zip(conns, sids, strict=True)))
            t0 = time.perf_counter()
            counts = await asyncio.gather(
                *(prompt_loop(c, s, t0 + seconds, lat) for c, s in zip(conns, sids, strict=True))
            )
            concurrent = sum(counts) / (time.perf_counter() - t0)
            lat.sort()

            after_load = rss_mb(server.proc.pid)
            return {
                "cold_start_ms": cold * 1000,
                "idle_rss_mb": idle,
                "rss_100_sessions_mb": server_100,
                "agent_child_rss_mb": per_child,
                "rss_after_load_mb": after_load,
                "sequential_prompts_s": sequential,
                "sequential_p50_ms": statistics.median(seq_lat) * 1000,
                "concurrent_prompts_s": concurrent,
                "concurrent_p50_ms": lat[len(lat) // 2] * 1000,
                "concurrent_p99_ms": lat[int(len(lat) * 0.99)] * 1000,
            }
        finally:
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--subscribe", action="store_true", help="stream every event to the client too")
    args = ap.parse_args()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    results = []
    with runner:
        for i in range(args.runs):
            results.append(runner.run(one_run(args.seconds, args.subscribe)))
            print(f"run {i + 1}: " + ", ".join(f"{k}={v:.1f}" for k, v in results[-1].items()), file=sys.stderr)
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(
        f"sandbox-agent mock throughput ({'events streamed' if args.subscribe else 'prompt only'}), "
        f"median of {args.runs} x {args.seconds:.0f}s, {os.cpu_count()} cores"
    )
    m = med
    print(f"  cold start to healthy      {m['cold_start_ms']:8.0f} ms")
    print(f"  idle RSS                   {m['idle_rss_mb']:8.1f} MB")
    print(f"  RSS with 100 sessions      {m['rss_100_sessions_mb']:8.1f} MB daemon")
    print(f"                             {m['agent_child_rss_mb']:8.1f} MB per mock child process")
    print(f"  RSS after the load below   {m['rss_after_load_mb']:8.1f} MB daemon (121 sessions' transcripts)")
    print(
        f"  sequential, one client     {m['sequential_prompts_s']:8.0f} prompts/s  p50 {m['sequential_p50_ms']:.2f} ms"
    )
    print(f"                             ratio to Rust {m['sequential_prompts_s'] / PEER_SEQUENTIAL:.2f}")
    print(
        f"  20 concurrent sessions     {m['concurrent_prompts_s']:8.0f} prompts/s  p50 {m['concurrent_p50_ms']:.2f} ms"
    )
    print(f"                             p99 {m['concurrent_p99_ms']:.2f} ms")
    print(f"                             ratio to Rust {m['concurrent_prompts_s'] / PEER_CONCURRENT:.2f}")


if __name__ == "__main__":
    main()
