"""What metrics cost: each hook per call and per event, a scrape, and daemon throughput with metrics on vs off.

1. Hooks (in-process, timeit): the calls the daemon makes where something happens — per turn (`turn_started`,
   `turn_ended` with usage), per journal commit, per delivered batch, per HITL request — with metrics on and
   off, and prometheus-client's own Counter/Histogram for comparison. A mock turn is 9 events, so the per-event
   figure is the per-turn hooks divided by 9 (plus the per-commit and per-batch hooks, which cover many events).
2. A scrape of `/v1/metrics` rendered for 100 sessions.
3. Throughput of a real `sandbox-agent server`: 20 concurrent mock sessions streaming every event to their
   clients, `SANDBOX_AGENT_METRICS=on` (scraped every second) and `off`, alternating on/off/on/off...,
   medians of --runs each.

    python benchmarks/metrics_overhead.py [--seconds 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import timeit
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mock_throughput import Server, open_rpc, prompt_loop

from sandbox_agent.ops.stats import Stats
from sandbox_agent.schema.events import Usage

EVENTS_PER_TURN = 9


def ns_per_call(stmt: Any, number: int = 200_000) -> float:
    best = min(timeit.repeat(stmt, number=number, repeat=5))
    return best / number * 1e9


def hooks() -> dict[str, float]:
    out: dict[str, float] = {}
    usage = Usage(input_tokens=1200, output_tokens=80, cached_input_tokens=1000, total_cost_usd=0.01)
    for label, enabled in (("on", True), ("off", False)):
        s = Stats(enabled=enabled)
        out[f"turn_started [{label}]"] = ns_per_call(lambda s=s: s.turn_started("claude"))
        out[f"turn_ended + usage [{label}]"] = ns_per_call(
            lambda s=s: s.turn_ended("claude", "opus", "end_turn", 1.25, usage)
        )
        out[f"journal_committed [{label}]"] = ns_per_call(lambda s=s: s.journal_committed(0.0004, 9))
        out[f"delivered [{label}]"] = ns_per_call(lambda s=s: s.delivered(9))
        out[f"hitl request+resolve [{label}]"] = ns_per_call(
            lambda s=s: (s.hitl_requested("ses", "permission", "p1"), s.hitl_resolved("ses", "p1", "accept"))
        )
    from prometheus_client import CollectorRegistry, Counter, Histogram

    reg = CollectorRegistry()
    counter = Counter("c", "c", ["agent", "stop_reason"], registry=reg)
    hist = Histogram("h", "h", ["agent"], registry=reg)
    out["prometheus_client Counter.labels().inc()"] = ns_per_call(lambda: counter.labels("claude", "end_turn").inc())
    out["prometheus_client Histogram.labels().observe()"] = ns_per_call(lambda: hist.labels("claude").observe(1.25))
    return out


def per_event(h: dict[str, float], label: str) -> float:
    """Hook cost per event of a 9-event mock turn: two per-turn hooks, one commit and one batch per turn."""
    per_turn = (
        h[f"turn_started [{label}]"]
        + h[f"turn_ended + usage [{label}]"]
        + h[f"journal_committed [{label}]"]
        + h[f"delivered [{label}]"]
    )
    return per_turn / EVENTS_PER_TURN


def scrape_cost(sessions: int = 100) -> float:
    """Milliseconds to render /v1/metrics for a daemon with `sessions` stand-in sessions."""
    from sandbox_agent.ops.metrics import render

    class Log:
        last_seq = visible_seq = 500
        subscribers: set[Any] = set()

    class Hitl:
        permissions: dict[str, Any] = {}
        questions: dict[str, Any] = {}

    class Record:
        agent = "mock"

    class Session:
        record, log, hitl, status = Record(), Log(), Hitl(), "idle"

    class Manager:
        def __init__(self) -> None:
            self.sessions = {str(i): Session() for i in range(sessions)}

    class Daemon:
        manager = Manager()
        journal = None
        clients = 1

    d = Daemon()
    render(d)
    n = 50
    t0 = time.perf_counter()
    for _ in range(n):
        render(d)
    return (time.perf_counter() - t0) / n * 1000


async def throughput(seconds: float, metrics: bool) -> float:
    os.environ["SANDBOX_AGENT_METRICS"] = "on" if metrics else "off"
    with tempfile.TemporaryDirectory() as state:
        server = Server(state)
        server.start()
        stop = asyncio.Event()

        async def scrape() -> None:
            url = f"http://127.0.0.1:{server.port}/v1/metrics"
            while not stop.is_set():
                await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
                try:
                    await asyncio.wait_for(stop.wait(), 1.0)
                except TimeoutError:
                    pass

        try:
            conns = [await open_rpc(server.port) for _ in range(20)]
            sids = [(await c.call("sessions/create", {"agent": "mock"}))["session_id"] for c in conns]
            for c, s in zip(conns, sids, strict=True):
                await c.call("sessions/subscribe", {"session_id": s})
            warm = time.perf_counter() + 0.5
            await asyncio.gather(*(prompt_loop(c, s, warm, []) for c, s in zip(conns, sids, strict=True)))
            scraper = asyncio.ensure_future(scrape()) if metrics else None
            t0 = time.perf_counter()
            counts = await asyncio.gather(
                *(prompt_loop(c, s, t0 + seconds, []) for c, s in zip(conns, sids, strict=True))
            )
            rate = sum(counts) / (time.perf_counter() - t0)
            stop.set()
            if scraper is not None:
                await scraper
            for c in conns:
                await c.ws.close()  # type: ignore[attr-defined]
                c.reader.cancel()
            return rate
        finally:
            server.stop()
            os.environ.pop("SANDBOX_AGENT_METRICS", None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()

    h = hooks()
    print(f"hook costs (best of 5 x 200k calls), {os.cpu_count()} cores")
    for name, ns in h.items():
        print(f"  {name:48s} {ns:8.0f} ns")
    print(f"  per event of a {EVENTS_PER_TURN}-event mock turn, metrics on  {per_event(h, 'on'):8.0f} ns")
    print(f"  per event of a {EVENTS_PER_TURN}-event mock turn, metrics off {per_event(h, 'off'):8.0f} ns")
    print(f"scrape of /v1/metrics with 100 sessions: {scrape_cost():.2f} ms")
    if args.skip_throughput:
        return

    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    on: list[float] = []
    off: list[float] = []
    with runner:
        for i in range(args.runs):
            for metrics, into in ((True, on), (False, off)):
                into.append(runner.run(throughput(args.seconds, metrics)))
                print(f"run {i + 1} metrics {'on ' if metrics else 'off'}: {into[-1]:.0f} prompts/s", file=sys.stderr)
    m_on, m_off = statistics.median(on), statistics.median(off)
    print(
        f"throughput, 20 concurrent mock sessions streaming every event, {args.seconds:.0f}s runs alternating, "
        f"median of {args.runs} each"
    )
    print(f"  metrics on (scraped every 1 s)  {m_on:8.0f} prompts/s   runs: {', '.join(f'{x:.0f}' for x in on)}")
    print(f"  metrics off                     {m_off:8.0f} prompts/s   runs: {', '.join(f'{x:.0f}' for x in off)}")
    print(f"  on / off                        {m_on / m_off:8.3f}")


if __name__ == "__main__":
    main()
