"""A daemon's memory over a long life: 1,000 mock sessions, 10 turns each, ended in batches of 100 (so the mock
children fit), daemon RSS sampled throughout. Goal: after the run within 20 MB of idle; peak under 150 MB.

Also times reading 1,000 events (`EventLog.read`) from the in-memory window and from the journal.

    .venv/bin/python benchmarks/memory_soak.py [--sessions 1000] [--batch 100] [--turns 10] [--prompt everything]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from mock_throughput import Server, rss_mb  # type: ignore[import-not-found]
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sandbox_agent.sessions.parking import PARK_AFTER_S  # noqa: E402


class Rpc:
    def __init__(self, ws: object) -> None:
        self.ws = ws
        self.n = 0

    async def call(self, method: str, params: dict) -> dict:
        self.n += 1
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": self.n, "method": method, "params": params}))  # type: ignore[attr-defined]
        while True:
            msg = json.loads(await self.ws.recv())  # type: ignore[attr-defined]
            if msg.get("id") == self.n:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return msg["result"]


async def soak(port: int, sessions: int, batch: int, turns: int, prompt: str, pid: int) -> None:
    async with connect(f"ws://127.0.0.1:{port}/v1/rpc", compression=None, max_size=None) as ws:
        rpc = Rpc(ws)
        for start in range(0, sessions, batch):
            ids = [f"s{i}" for i in range(start, min(start + batch, sessions))]
            for sid in ids:
                await rpc.call("sessions/create", {"agent": "mock", "session_id": sid})

            async def run(sid: str) -> None:
                async with connect(f"ws://127.0.0.1:{port}/v1/rpc", compression=None, max_size=None) as w:
                    r = Rpc(w)
                    for t in range(turns):
                        await r.call("sessions/prompt", {"session_id": sid, "message": f"{prompt} {t}"})

            await asyncio.gather(*(run(sid) for sid in ids))
            for sid in ids:
                await rpc.call("sessions/terminate", {"session_id": sid})
            print(f"  {start + len(ids)} sessions done, RSS {rss_mb(pid):.1f} MB", file=sys.stderr, flush=True)


def read_costs() -> dict[str, float]:
    """µs per 1,000-event read from memory and from the journal (in-process)."""
    from sandbox_agent.sessions.event_log import EventLog
    from sandbox_agent.sessions.journal import Journal

    async def run() -> dict[str, float]:
        with tempfile.TemporaryDirectory() as tmp:
            journal = Journal(Path(tmp) / "j.sqlite3")
            log = EventLog("s", journal)
            log.idle = False  # an active session: its window stays in memory
            body = b'{"x":"' + b"y" * 400 + b'"}'
            for i in range(1, 1001):
                log.append(i, "item.delta", body)
            journal.flush()
            mem = []
            for _ in range(200):
                t = time.perf_counter()
                log.read(0, 1000)
                mem.append(time.perf_counter() - t)
            log.idle = True
            log.release()
            disk = []
            for _ in range(200):
                t = time.perf_counter()
                log.read(0, 1000)
                disk.append(time.perf_counter() - t)
            journal.close()
            return {
                "read_1000_from_memory_us": round(statistics.median(mem) * 1e6, 1),
                "read_1000_from_journal_us": round(statistics.median(disk) * 1e6, 1),
            }

    return asyncio.run(run())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--prompt", default="everything")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        daemon = Server(tmp)
        daemon.start()
        assert daemon.proc is not None
        pid = daemon.proc.pid
        try:
            time.sleep(1.0)
            idle = rss_mb(pid)
            samples: list[float] = []
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    samples.append(rss_mb(pid))
                    stop.wait(0.25)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.monotonic()
            asyncio.run(soak(daemon.port, a.sessions, a.batch, a.turns, a.prompt, pid))
            elapsed = time.monotonic() - started
            time.sleep(PARK_AFTER_S + 2.0)  # the daemon parks sessions ended and unused this long
            after = rss_mb(pid)
            stop.set()
            sampler.join()
        finally:
            daemon.stop()
    out = {
        "sessions": a.sessions,
        "turns_each": a.turns,
        "prompt": a.prompt,
        "idle_rss_mb": round(idle, 1),
        "peak_rss_mb": round(max(samples), 1),
        "after_rss_mb": round(after, 1),
        "after_minus_idle_mb": round(after - idle, 1),
        "seconds": round(elapsed, 1),
        **read_costs(),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
