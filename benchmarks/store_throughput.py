"""The store's shipper: how fast it drains a backlog, and how far behind it runs under the mock load.

1. drain: a journal of --rows events (mock-like bodies, 20 sessions) written with plain SQLite into the journal's
   tables, shipped into an empty database by the real Shipper (here on a thread of this process; a daemon runs the
   same code in its shipper process); events/s = rows / seconds to catch up.
2. live: a real `sandbox-agent server --store URL` (its shipper process), 20 concurrent mock sessions prompting for
   --seconds; the lag of each event is PostgreSQL's `stored_at` (the start of the transaction that stored it) minus
   the event's own `time` (same clock), p50/p99 over every event, and the rate at which events were produced and
   shipped.

PostgreSQL: --store URL, else a throwaway cluster from scripts/postgres. Each figure is the median of --runs.

    python benchmarks/store_throughput.py [--rows 100000] [--seconds 10] [--runs 3] [--store URL]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
import psycopg
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox_agent.store.shipper import Shipper  # noqa: E402

GOAL_RATE = 10_000
GOAL_LAG_MS = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_database(url: str) -> str:
    name = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str, db: str) -> None:
    """After each run: a run's tables left behind get autovacuumed and analyzed during the next run (~0.5 s of
    the database's CPU), which showed as 100-200 ms stalls of the next run's inserts on a 2-core machine."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db.rsplit("/", 1)[1]}" WITH (FORCE)')


def fake_journal(path: Path, rows: int, sessions: int = 20) -> None:
    """The journal's two tables, filled the way a busy daemon fills them (interleaved sessions)."""
    db = sqlite3.connect(str(path))
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(
        "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, record BLOB NOT NULL, created_at TEXT NOT NULL);"
        "CREATE TABLE events (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL, "
        "type TEXT NOT NULL, body BLOB NOT NULL);"
        "CREATE UNIQUE INDEX events_by_session ON events(session_id, seq);"
    )
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    sids = [f"ses_bench{n}" for n in range(sessions)]
    for sid in sids:
        record = {"session_id": sid, "agent": "mock", "cwd": "/work", "created_at": now}
        db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (sid, orjson.dumps(record), now))
    seqs = dict.fromkeys(sids, 0)
    batch = []
    for n in range(rows):
        sid = sids[n % sessions]
        seqs[sid] += 1
        body = {
            "event_id": f"evt_{n:x}", "sequence": seqs[sid], "time": now, "session_id": sid, "source": "agent",
            "type": "item.delta", "data": {"item_id": f"itm_{n // 5:x}", "delta": "lorem ipsum dolor sit amet " * 8},
        }
        batch.append((sid, seqs[sid], "item.delta", orjson.dumps(body)))
        if len(batch) == 10_000:
            db.executemany("INSERT INTO events(session_id, seq, type, body) VALUES (?, ?, ?, ?)", batch)
            db.commit()
            batch = []
    db.executemany("INSERT INTO events(session_id, seq, type, body) VALUES (?, ?, ?, ?)", batch)
    db.commit()
    db.close()


def drain_once(url: str, rows: int) -> float:
    """events/s for shipping a backlog of `rows` into an empty database."""
    folder = Path(tempfile.mkdtemp(prefix="store-bench-"))
    try:
        journal = folder / "journal.sqlite3"
        fake_journal(journal, rows)
        db = new_database(url)
        shipper = Shipper(db, journal)
        t0 = time.perf_counter()
        shipper.start()
        while shipper.watermark < rows:
            if shipper.state == "down":
                raise RuntimeError(shipper.error)
            time.sleep(0.005)
        seconds = time.perf_counter() - t0
        shipper.stop(0)
        drop_database(url, db)
        return rows / seconds
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


async def live_once(url: str, seconds: float, sessions: int = 20) -> tuple[float, ...]:
    """(events/s produced and shipped, lag p50 ms, lag p99 ms, events, delivery p50 ms, delivery p99 ms)."""
    db = new_database(url)
    state = tempfile.mkdtemp(prefix="store-bench-state-")
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sandbox_agent", "server", "--port", "0", "--no-token", "--state-dir", state,
        "--log-level", "warning", "--store", db, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )
    try:
        assert server.stderr is not None
        port = 0
        while not port:
            line = (await server.stderr.readline()).decode()
            if not line:
                raise RuntimeError("the server did not start")
            if "listening on" in line:
                port = int(line.rsplit(":", 1)[1])
        # the steady state is measured: the load starts once the shipper (a process the daemon starts) is connected
        deadline = time.monotonic() + 30
        while json.loads((await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/v1/health")).decode())["store"][
            "state"
        ] != "ok":
            if time.monotonic() > deadline:
                raise RuntimeError("the store did not connect")
            await asyncio.sleep(0.02)
        ids = itertools.count(1)
        async with connect(f"ws://127.0.0.1:{port}/v1/rpc", compression=None, max_size=None) as ws:
            pending: dict[int, asyncio.Future[dict]] = {}
            delivered: list[float] = []  # client receive time - event time: the daemon's own share of the lag

            async def read() -> None:
                async for raw in ws:
                    msg = json.loads(raw)
                    if "id" in msg:
                        pending.pop(msg["id"]).set_result(msg)
                    elif msg.get("method") == "sessions/event":
                        delivered.append(time.time() - _epoch(msg["params"]["event"]["time"]))

            reader = asyncio.ensure_future(read())

            async def call(method: str, params: dict) -> dict:
                i = next(ids)
                pending[i] = asyncio.get_running_loop().create_future()
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}))
                return (await pending[i])["result"]

            sids = [(await call("sessions/create", {"agent": "mock"}))["session_id"] for _ in range(sessions)]
            for sid in sids:
                await call("sessions/subscribe", {"session_id": sid})
            t_end = time.perf_counter() + seconds

            async def loop(sid: str) -> None:
                n = 0
                while time.perf_counter() < t_end:
                    await call("sessions/prompt", {"session_id": sid, "message": f"hello {n}"})
                    n += 1

            t0 = time.perf_counter()
            await asyncio.gather(*(loop(s) for s in sids))
            elapsed = time.perf_counter() - t0
            # let the shipper finish, then read the figures from the database
            deadline = time.monotonic() + 30
            with psycopg.connect(db, autocommit=True) as conn:
                while True:
                    health = json.loads(
                        (await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/v1/health")).decode()
                    )
                    if health["store"]["lag_rows"] == 0 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.05)
                count, p50, p99 = conn.execute(
                    "SELECT count(*), "
                    "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - time)), "
                    "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - time)) FROM events"
                ).fetchone()
            reader.cancel()
        delivered.sort()
        d50, d99 = delivered[len(delivered) // 2], delivered[int(len(delivered) * 0.99)]
        return count / elapsed, p50 * 1000, p99 * 1000, int(count), d50 * 1000, d99 * 1000
    finally:
        server.terminate()
        await server.wait()
        shutil.rmtree(state, ignore_errors=True)
        drop_database(url, db)


def _get(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-drain", action="store_true")
    ap.add_argument("--store", help="a PostgreSQL URL (default: a throwaway cluster from scripts/postgres)")
    args = ap.parse_args()
    cluster = None
    url = args.store
    if not url:
        cluster = Path(tempfile.mkdtemp(prefix="store-bench-pg-"))
        done = subprocess.run([str(ROOT / "scripts" / "postgres"), "start", str(cluster / "c"), str(free_port())],
                              capture_output=True, text=True, check=True)
        url = done.stdout.strip()
    try:
        rates = [drain_once(url, args.rows) for _ in range(0 if args.skip_drain else args.runs)]
        if rates:
            print(f"drain: {statistics.median(rates):,.0f} events/s shipped (median of {args.runs}; "
                  f"runs {', '.join(f'{r:,.0f}' for r in rates)}; goal >= {GOAL_RATE:,})")
        lives = [asyncio.run(live_once(url, args.seconds)) for _ in range(args.runs)]
        rate = statistics.median(r[0] for r in lives)
        p50 = statistics.median(r[1] for r in lives)
        p99 = statistics.median(r[2] for r in lives)
        print(f"live (20 mock sessions prompting, {args.seconds:g}s): {rate:,.0f} events/s produced and shipped, "
              f"lag p50 {p50:.1f} ms, p99 {p99:.1f} ms (medians of {args.runs}; p99 of the runs "
              f"{', '.join(f'{r[2]:.0f}' for r in lives)}; goal < {GOAL_LAG_MS} ms); "
              f"for scale, delivery to a subscribed client p50 {statistics.median(r[4] for r in lives):.1f} ms, "
              f"p99 {statistics.median(r[5] for r in lives):.1f} ms")
    finally:
        if cluster is not None:
            subprocess.run([str(ROOT / "scripts" / "postgres"), "stop", str(cluster / "c")], check=False)
            shutil.rmtree(cluster, ignore_errors=True)


if __name__ == "__main__":
    main()
