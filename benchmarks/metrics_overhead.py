"""What metrics cost: each hook per call and per event, a scrape, and daemon throughput with metrics on vs off.

1. Hooks (in-process, timeit): the calls the daemon makes where something happens — per turn (`turn_started`,
   `turn_ended` with usage), per journal commit, per delivered batch, per HITL request — with metrics on and
   off, and prometheus-client's own Counter/Histogram for comparison. A mock turn is 9 events, so the per-event
   figure is the per-turn hooks divided by 9 (plus the per-commit and per-batch hooks, which cover many events).
2. A scrape of `/v1/metrics` rendered for 100 sessions.
3. Throughput and daemon CPU per prompt of a real `sandbox-agent server`: 20 concurrent mock sessions streaming
   every event to their clients, `SANDBOX_AGENT_METRICS=on` (scraped every --scrape-every seconds; with a
   value above --seconds no scrape falls in the window, which measures the hooks alone) and `off`, alternating
   on/off/on/off..., medians of --runs each; and paired runs, an on and an off server loaded in the same
   seconds, so a busy machine's noise hits both alike (CPU per prompt is the steadier figure there).

    python benchmarks/metrics_overhead.py [--seconds 5] [--runs 3] [--scrape-every 1]
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

from _peer import cpu_seconds
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
            self.parked: dict[str, Any] = {}  # ended, unused sessions the metrics count without loading

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


class Workload:
    """One server (metrics on or off) with `sessions` mock sessions, each streamed to its own WebSocket client."""

    def __init__(self, metrics: bool, sessions: int, scrape_every: float = 1.0) -> None:
        self.metrics = metrics
        self.scrape_every = scrape_every
        self.sessions = sessions
        self.state = tempfile.TemporaryDirectory()
        self.server = Server(self.state.name)

    async def __aenter__(self) -> Workload:
        os.environ["SANDBOX_AGENT_METRICS"] = "on" if self.metrics else "off"
        try:
            self.server.start()
        finally:
            os.environ.pop("SANDBOX_AGENT_METRICS", None)
        self.conns = [await open_rpc(self.server.port) for _ in range(self.sessions)]
        self.sids = [(await c.call("sessions/create", {"agent": "mock"}))["session_id"] for c in self.conns]
        for c, sid in zip(self.conns, self.sids, strict=True):
            await c.call("sessions/subscribe", {"session_id": sid})
        await self._prompts(time.perf_counter() + 0.5)  # warm-up
        if self.metrics:  # the first scrape imports prometheus-client (~120 ms): before, not inside, the window
            url = f"http://127.0.0.1:{self.server.port}/v1/metrics"
            await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
        return self

    async def _prompts(self, until: float) -> int:
        pairs = zip(self.conns, self.sids, strict=True)
        return sum(await asyncio.gather(*(prompt_loop(c, sid, until, []) for c, sid in pairs)))

    async def _scrape(self, stop: asyncio.Event) -> None:
        url = f"http://127.0.0.1:{self.server.port}/v1/metrics"
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.scrape_every)
            except TimeoutError:
                await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())

    async def measure(self, seconds: float) -> tuple[float, float]:
        """(prompts/s, daemon CPU microseconds per prompt); metrics on = scraped every `scrape_every` s meanwhile."""
        stop = asyncio.Event()
        scraper = asyncio.ensure_future(self._scrape(stop)) if self.metrics else None
        assert self.server.proc is not None
        cpu0 = cpu_seconds(self.server.proc.pid)
        t0 = time.perf_counter()
        n = await self._prompts(t0 + seconds)
        rate = n / (time.perf_counter() - t0)
        cpu_us = (cpu_seconds(self.server.proc.pid) - cpu0) / n * 1e6
        stop.set()
        if scraper is not None:
            await scraper
        return rate, cpu_us

    async def __aexit__(self, *exc: object) -> None:
        for c in self.conns:
            await c.ws.close()  # type: ignore[attr-defined]
            c.reader.cancel()
        self.server.stop()
        self.state.cleanup()


async def alone(seconds: float, metrics: bool, scrape_every: float) -> tuple[float, float]:
    async with Workload(metrics, 20, scrape_every) as w:
        return await w.measure(seconds)


async def paired(seconds: float, scrape_every: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """An on and an off server under load in the same seconds, 10 sessions each: the machine's noise hits both."""
    async with Workload(True, 10, scrape_every) as on, Workload(False, 10) as off:
        a, b = await asyncio.gather(on.measure(seconds), off.measure(seconds))
        return a, b


def report(title: str, on: list[tuple[float, float]], off: list[tuple[float, float]]) -> None:
    print(title)
    for label, runs in (("metrics on", on), ("metrics off", off)):
        rate, cpu = statistics.median(r for r, _ in runs), statistics.median(c for _, c in runs)
        print(f"  {label:31s} {rate:8.0f} prompts/s  {cpu:6.0f} us daemon CPU per prompt")
    rate_ratio = statistics.median(r for r, _ in on) / statistics.median(r for r, _ in off)
    cpu_ratio = statistics.median(c for _, c in on) / statistics.median(c for _, c in off)
    print(f"  on / off                        {rate_ratio:8.3f} throughput  {cpu_ratio:6.3f} CPU per prompt")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument(
        "--scrape-every", type=float, default=1.0, help="seconds between scrapes (Prometheus: 15-60)"
    )
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
    on: list[tuple[float, float]] = []
    off: list[tuple[float, float]] = []
    pair_on: list[tuple[float, float]] = []
    pair_off: list[tuple[float, float]] = []
    with runner:
        for i in range(args.runs):
            for metrics, into in ((True, on), (False, off)):
                into.append(runner.run(alone(args.seconds, metrics, args.scrape_every)))
                rate, cpu = into[-1]
                label = "on " if metrics else "off"
                print(f"run {i + 1} metrics {label}: {rate:.0f} prompts/s, {cpu:.0f} us CPU/prompt", file=sys.stderr)
            a, b = runner.run(paired(args.seconds, args.scrape_every))
            pair_on.append(a)
            pair_off.append(b)
            print(f"run {i + 1} paired: on {a[0]:.0f}/s {a[1]:.0f} us, off {b[0]:.0f}/s {b[1]:.0f} us", file=sys.stderr)
    print(f"metrics on = scraped every {args.scrape_every:g} s during the measured {args.seconds:g} s")
    report(
        f"20 concurrent mock sessions streaming every event, {args.seconds:.0f}s runs alternating on/off, "
        f"median of {args.runs} each",
        on,
        off,
    )
    title = f"paired: an on and an off server loaded in the same {args.seconds:.0f}s, 10 sessions each"
    report(title, pair_on, pair_off)


if __name__ == "__main__":
    main()
