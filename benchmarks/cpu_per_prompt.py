"""CPU time the daemon (and its mock child) spends per sequential `sessions/prompt`: steadier than prompts/s on
a shared, noisy machine, because it counts the daemon's own CPU (from /proc/<pid>/stat) instead of wall time.

    python benchmarks/cpu_per_prompt.py [--prompts 2000] [--root CHECKOUT ...]

Each `--root` (default: this checkout) is a source tree to run `python -m sandbox_agent server` from, so two
commits can be compared side by side (e.g. a `git worktree` of the older one); the roots alternate per run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peer import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


async def measure(root: Path, prompts: int, message: str) -> tuple[float, float, float]:
    """(daemon CPU ms, child CPU ms, wall ms) per prompt."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(root)}
        cmd = [sys.executable, "-m", "sandbox_agent", "server", "--port", "0", "--no-token", "--state-dir", tmp]
        proc = subprocess.Popen([*cmd, "--log-level", "warning"], stderr=subprocess.PIPE, cwd=root, env=env)  # noqa: ASYNC220 - a benchmark, before the clock starts
        assert proc.stderr is not None
        try:
            while True:
                line = proc.stderr.readline().decode()
                if not line:
                    raise SystemExit(f"{root}: the server exited")
                if m := re.search(r"listening on http://127\.0\.0\.1:(\d+)", line):
                    port = int(m.group(1))
                    break
            async with connect(f"ws://127.0.0.1:{port}/v1/rpc", compression=None) as ws:
                n = 0

                async def call(method: str, params: dict[str, object]) -> None:
                    nonlocal n
                    n += 1
                    await ws.send(json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params}))
                    while json.loads(await ws.recv()).get("id") != n:
                        pass

                await call("sessions/create", {"agent": "mock", "session_id": "s"})
                for _ in range(200):  # warm-up
                    await call("sessions/prompt", {"session_id": "s", "message": message})
                kids = children(proc.pid)
                c0, k0, t0 = cpu_seconds(proc.pid), sum(map(cpu_seconds, kids)), time.perf_counter()
                for _ in range(prompts):
                    await call("sessions/prompt", {"session_id": "s", "message": message})
                wall = time.perf_counter() - t0
                c1, k1 = cpu_seconds(proc.pid), sum(map(cpu_seconds, kids))
        finally:
            proc.terminate()
            proc.wait()
    return 1000 * (c1 - c0) / prompts, 1000 * (k1 - k0) / prompts, 1000 * wall / prompts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--message", default="hi")
    ap.add_argument("--root", action="append", type=Path)
    a = ap.parse_args()
    roots = a.root or [ROOT]
    results: dict[Path, list[tuple[float, float, float]]] = {r: [] for r in roots}
    for _ in range(a.runs):
        for root in roots:
            results[root].append(asyncio.run(measure(root, a.prompts, a.message)))
    print(f"load average {os.getloadavg()[0]:.1f}; medians of {a.runs} runs of {a.prompts} prompts")
    for root, runs in results.items():
        daemon, child, wall = (statistics.median(x) for x in zip(*runs, strict=True))
        print(f"{root}: daemon CPU {daemon:.3f} ms/prompt, mock child {child:.3f} ms/prompt, wall {wall:.2f} ms/prompt")


if __name__ == "__main__":
    main()
