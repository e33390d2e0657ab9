"""What attaching to the shared daemon costs: per call through the `stdio` relay vs the socket vs an embedded
daemon, time from `SandboxAgent.start()` to ready with and without a running daemon, and idle daemon RSS.

    .venv/bin/python benchmarks/attach_overhead.py [--calls 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sandbox_agent.client import SandboxAgent
from sandbox_agent.statedir import read_pid_file

CLI = [sys.executable, "-m", "sandbox_agent"]
CALL = b'{"jsonrpc":"2.0","id":1,"method":"sessions/list","params":{}}\n'


def per_call_stdio(args: list[str], calls: int) -> float:
    """Median µs per sequential call over a child `sandbox-agent stdio ...` (NDJSON on pipes)."""
    proc = subprocess.Popen([*CLI, "stdio", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        proc.stdin.write(CALL)
        proc.stdin.flush()
        proc.stdout.readline()
        times.append(time.perf_counter() - t)
    proc.stdin.close()
    proc.wait(30)
    return statistics.median(times[calls // 10 :]) * 1e6


async def per_call_socket(state: Path, calls: int) -> float:
    async with await SandboxAgent.start(state_dir=state) as client:
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            await client.call("sessions/list")
            times.append(time.perf_counter() - t)
    return statistics.median(times[calls // 10 :]) * 1e6


async def start_to_ready(state: Path) -> float:
    t = time.perf_counter()
    async with await SandboxAgent.start(state_dir=state) as client:
        await client.initialize()
        return (time.perf_counter() - t) * 1e3


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    relay, sock, embedded, cold, warm, rss = [], [], [], [], [], []
    for _ in range(a.runs):
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp) / "state"
            cold.append(asyncio.run(start_to_ready(state)))  # no daemon yet: starts one
            warm.append(asyncio.run(start_to_ready(state)))  # attaches to it
            subprocess.run([*CLI, "daemon", "start", "--state-dir", str(state)], capture_output=True, check=True)
            time.sleep(1.0)
            info = read_pid_file(state) or {}
            rss.append(rss_mb(int(info["pid"])))
            relay.append(per_call_stdio(["--state-dir", str(state)], a.calls))
            sock.append(asyncio.run(per_call_socket(state, a.calls)))
            subprocess.run([*CLI, "daemon", "stop", "--state-dir", str(state)], capture_output=True, check=True)
            embedded.append(per_call_stdio(["--embedded", "--state-dir", str(state)], a.calls))
    med = statistics.median
    out = {
        "per_call_us": {
            "stdio_relay": round(med(relay), 1),
            "sdk_socket": round(med(sock), 1),
            "stdio_embedded": round(med(embedded), 1),
        },
        "relay_overhead_us": round(med(relay) - med(embedded), 1),
        "start_to_ready_ms": {"no_daemon": round(med(cold), 1), "daemon_running": round(med(warm), 1)},
        "idle_daemon_rss_mb": round(med(rss), 1),
        "runs": a.runs,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
