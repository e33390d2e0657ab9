"""Side by side with the Rust original (sandbox-agent 0.4.2 from npm): the figures of issue 13, in one process.

    python benchmarks/compare_peer.py [--runs 3] [--seconds 5] [--fanout] [--json]

Each run starts each daemon twice on loopback (the order alternates between runs): once for cold start, idle RSS
and RSS with 100 mock sessions, once for throughput. Figures are medians over the runs; ratio = ours / theirs.

- theirs: `sandbox-agent server --no-token --no-telemetry` with its built-in mock (ACP over HTTP: one
  `POST /v1/acp/{server_id}?agent=mock` per JSON-RPC envelope; a prompt is one `session/prompt` round trip, which
  its mock answers with one echo notification and the echoed result). ours: `python -m sandbox_agent server`
  with the mock agent, JSON-RPC over WebSocket at /v1/rpc; a prompt is `sessions/prompt`, a whole journaled
  9-event turn. Both clients are the cheapest we have in Python (raw keep-alive HTTP/1.1; websockets without
  compression), in this process, on the same 2 cores as the daemon under test.
- cold start: spawn → first 200 answer to the call listing agents (theirs `GET /v1/agents`, ours `agents/list`
  as POST /v1/rpc), a fresh connection tried every 2 ms, on a port picked beforehand for both.
- RSS: VmRSS of the daemon process 1 s after start-up, and after 100 mock sessions (agent children apart).
- CPU per prompt, in each throughput window: the daemon (all its threads), its agent children, and this process
  (the benchmark client), from /proc/<pid>/stat (10 ms ticks) and process_time(). All three share the 2 cores, so
  "cores / (client + children CPU per prompt)" is the most prompts/s the machine allows a daemon that costs nothing.
- `--fanout` (ours only): one session streaming to 50 WebSocket subscribers while one client prompts it; events/s
  delivered in total and p99 delivery lag (receive time - the event's `time`, which has 1 ms resolution); then
  again with one extra subscriber that reads nothing, which must not slow the others. Then the driver goes on
  alone (bounded: 30 s) until that subscriber is >10,000 events behind beyond what its socket buffers absorb, and
  we read it: it must get `sessions/subscription_closed {reason: overflow}`. The table also says whether the
  daemon cut it off while it was still stalled (the overflow counter in /v1/metrics) or only once it read again.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peer import (
    PEER_VERSION,
    CpuMeter,
    PeerClient,
    cold_start,
    descendants,
    drain,
    ensure_peer,
    free_port,
    http_request,
    install_mock,
    installed_env,
    overflows,
    reap_all,
    rss_mb,
    scratch_env,
    slow_subscriber,
    stop,
)

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
CONCURRENT = 20
SESSIONS = 100
SUBSCRIBERS = 50
MAX_LAG = 10_000  # sandbox_agent/sessions/subscription.py DEFAULT_MAX_LAG
KERNEL_BUFFERED = 10_000  # events a stalled reader's socket absorbs (~4 MB send buffer) before a send blocks


class OursClient:
    """Our JSON-RPC over WebSocket; `on_note` sees every notification (already parsed)."""

    def __init__(self, port: int, on_note: Any = None) -> None:
        self.port = port
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.on_note = on_note

    async def open(self, **ws_options: Any) -> OursClient:
        self.ws = await connect(f"ws://127.0.0.1:{self.port}/v1/rpc", compression=None, max_size=None, **ws_options)
        self.reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = orjson.loads(raw)
            if "id" in msg:
                self.pending.pop(msg["id"]).set_result(msg)
            elif self.on_note is not None:
                self.on_note(msg)

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        i = next(self.ids)
        fut = self.pending[i] = asyncio.get_running_loop().create_future()
        await self.ws.send(orjson.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}).decode())
        reply = await fut
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def new_session(self, name: str) -> str:
        return (await self.call("sessions/create", {"agent": "mock"}))["session_id"]

    async def prompt(self, sid: str, n: int) -> None:
        await self.call("sessions/prompt", {"session_id": sid, "message": f"hi {n}"})

    async def close(self) -> None:
        self.reader.cancel()
        await self.ws.close()


class Target:
    def __init__(self, name: str, work: Path) -> None:
        self.name = name
        self.work = work
        self.launches = itertools.count(1)

    def start(self) -> tuple[Any, tuple[float, float], int]:
        """Spawn on a fresh port; (process, (cold-start seconds, seconds to accepting), port)."""
        port, n = free_port(), next(self.launches)
        log = self.work / f"{self.name}-{n}.log"
        if self.name == "theirs":
            cmd = [str(self.binary), "server", "--no-token", "--no-telemetry", "--host", "127.0.0.1"]
            cmd += ["--port", str(port)]
            proc, *cold = cold_start(cmd, self.env, None, log, port, http_request("GET", "/v1/agents", port))
        else:
            state = tempfile.mkdtemp(prefix=f"ours-{n}-", dir=self.work)
            cmd = [str(PYTHON), "-m", "sandbox_agent", "server", "--no-token", "--port", str(port)]
            cmd += ["--state-dir", state, "--log-level", "warning"]
            body = b'{"jsonrpc":"2.0","id":1,"method":"agents/list","params":{}}'
            # run_all starts ours once, untimed, so the .pyc of anything changed is written before we count
            proc, *cold = cold_start(cmd, installed_env(), ROOT, log, port, http_request("POST", "/v1/rpc", port, body))
        return proc, (cold[0], cold[1]), port

    async def client(self, port: int) -> PeerClient | OursClient:
        return await (PeerClient(port) if self.name == "theirs" else OursClient(port)).open()


async def memory_phase(t: Target) -> dict[str, float]:
    proc, cold, port = t.start()
    try:
        await asyncio.sleep(1.0)
        idle = rss_mb(proc.pid)
        c = await t.client(port)
        for i in range(SESSIONS // 2):
            await c.new_session(f"m{i}")
        await asyncio.sleep(1.0)
        half = rss_mb(proc.pid)
        for i in range(SESSIONS // 2, SESSIONS):
            await c.new_session(f"m{i}")
        await asyncio.sleep(1.0)
        full = rss_mb(proc.pid)
        kids = descendants(proc.pid)
        await c.close()
        return {
            "cold_start_ms": cold[0] * 1000,
            "accepting_ms": cold[1] * 1000,
            "idle_rss_mb": idle,
            "rss_100_sessions_mb": full,
            "growth_per_session_kb": (full - idle) * 1024 / SESSIONS,
            "growth_50_to_100_kb": (full - half) * 1024 / (SESSIONS - SESSIONS // 2),
            "children_rss_mb": sum(rss_mb(k) for k in kids),
            "children": len(kids),
        }
    finally:
        stop(proc)


async def prompt_loop(c: Any, sid: str, until: float, lat: list[float]) -> int:
    n = 0
    while time.perf_counter() < until:
        t0 = time.perf_counter()
        await c.prompt(sid, n)
        lat.append(time.perf_counter() - t0)
        n += 1
    return n


async def throughput_phase(t: Target, seconds: float) -> dict[str, float]:
    proc, _, port = t.start()
    try:
        c = await t.client(port)
        sid = await c.new_session("seq")
        await prompt_loop(c, sid, time.perf_counter() + 0.5, [])
        seq_lat: list[float] = []
        meter = CpuMeter(proc.pid)
        t0 = time.perf_counter()
        n = await prompt_loop(c, sid, t0 + seconds, seq_lat)
        sequential = n / (time.perf_counter() - t0)
        seq_cpu = meter.per_prompt_ms(n)
        clients = [await t.client(port) for _ in range(CONCURRENT)]
        sids = [await cl.new_session(f"c{i}") for i, cl in enumerate(clients)]
        pairs = list(zip(clients, sids, strict=True))
        await asyncio.gather(*(prompt_loop(cl, s, time.perf_counter() + 0.5, []) for cl, s in pairs))
        lat: list[float] = []
        meter = CpuMeter(proc.pid)
        t0 = time.perf_counter()
        counts = await asyncio.gather(*(prompt_loop(cl, s, t0 + seconds, lat) for cl, s in pairs))
        concurrent = sum(counts) / (time.perf_counter() - t0)
        con_cpu = meter.per_prompt_ms(sum(counts))
        lat.sort()
        for cl in [c, *clients]:
            await cl.close()
        return {
            "sequential_prompts_s": sequential,
            "sequential_p50_ms": statistics.median(seq_lat) * 1000,
            "concurrent_prompts_s": concurrent,
            "concurrent_p50_ms": lat[len(lat) // 2] * 1000,
            "concurrent_p99_ms": lat[int(len(lat) * 0.99)] * 1000,
            **{f"seq_cpu_{k}_ms": v for k, v in seq_cpu.items()},
            **{f"con_cpu_{k}_ms": v for k, v in con_cpu.items()},
            # prompts/s the 2 cores allow if the daemon cost nothing: what the client and agent children need
            "ceiling_prompts_s": (os.cpu_count() or 1) * 1000 / max(con_cpu["client"] + con_cpu["children"], 1e-6),
        }
    finally:
        stop(proc)


class FanStats:
    """What the fast subscribers received: a count, the highest sequence, and delivery lags while recording."""

    def __init__(self) -> None:
        self.count = 0
        self.last_seq = 0
        self.lags: list[float] = []
        self.recording = False
        self._epoch: dict[str, float] = {}

    def note(self, msg: dict[str, Any]) -> None:
        if msg.get("method") != "sessions/event":
            return
        event = msg["params"]["event"]
        self.last_seq = max(self.last_seq, event["sequence"])
        if not self.recording:
            return
        self.count += 1
        stamp = event["time"]
        epoch = self._epoch.get(stamp)
        if epoch is None:
            if len(self._epoch) > 4096:
                self._epoch.clear()
            epoch = self._epoch[stamp] = datetime.fromisoformat(stamp).timestamp()
        self.lags.append(time.time() - epoch)

    async def window(self, driver: OursClient, sid: str, seconds: float) -> tuple[float, float, float]:
        """Prompt for `seconds`: (events/s delivered to all subscribers, p99 lag ms, prompts/s)."""
        self.count, self.lags, self.recording = 0, [], True
        t0 = time.perf_counter()
        n = await prompt_loop(driver, sid, t0 + seconds, [])
        dt = time.perf_counter() - t0
        self.recording = False
        lags = sorted(self.lags)
        return self.count / dt, lags[int(len(lags) * 0.99)] * 1000 if lags else float("nan"), n / dt


async def fanout_phase(ours: Target, seconds: float, n: int, overflow_cap: float = 30.0) -> dict[str, float]:
    proc, _, port = ours.start()
    clients: list[OursClient] = []
    try:
        stats = FanStats()
        driver = await OursClient(port).open()
        clients.append(driver)
        sid = await driver.new_session("fan")
        for _ in range(n):
            c = await OursClient(port, on_note=stats.note).open()
            clients.append(c)
            await c.call("sessions/subscribe", {"session_id": sid})
        await overflows(port)  # the first scrape imports prometheus-client: not inside a window
        await prompt_loop(driver, sid, time.perf_counter() + 0.5, [])
        events_s, lag_p99, prompts_s = await stats.window(driver, sid, seconds)
        await asyncio.sleep(0.2)
        rss_before = rss_mb(proc.pid)
        stats.slow_offset = stats.last_seq
        slow = await slow_subscriber(port, sid, stats.slow_offset)
        t_slow = time.perf_counter()
        slow_events_s, slow_lag_p99, slow_prompts_s = await stats.window(driver, sid, seconds)
        for c in clients[1:]:  # measured; now let the driver run at full speed so the slow one falls 10k behind
            await c.close()
        del clients[1:]
        overflow_s = -1.0  # stays so when it is closed only once it reads again
        offset, total = stats.slow_offset, 0
        while time.perf_counter() - t_slow < overflow_cap:  # bounded: turns until it is well past max_lag behind
            if await overflows(port) >= 1:
                overflow_s = time.perf_counter() - t_slow
                break
            total = (await driver.call("sessions/get", {"session_id": sid}))["event_count"]
            if total - offset > MAX_LAG + KERNEL_BUFFERED:
                break
            await prompt_loop(driver, sid, time.perf_counter() + 0.5, [])
        rss = rss_mb(proc.pid)
        reason, slow_got = await drain(slow)
        await slow.close()
        return {
            "events_s": events_s,
            "lag_p99_ms": lag_p99,
            "prompts_s": prompts_s,
            "slow_events_s": slow_events_s,
            "slow_lag_p99_ms": slow_lag_p99,
            "slow_prompts_s": slow_prompts_s,
            "slow_overflowed": 1.0 if reason == "overflow" else 0.0,
            "cut_off_while_stalled": 1.0 if overflow_s >= 0 else 0.0,
            "slow_overflow_s": overflow_s,
            "slow_events_received": slow_got,
            "events_while_slow": total - offset,
            "rss_before_slow_mb": rss_before,
            "rss_stalled_mb": rss,
        }
    finally:
        for c in clients:
            await c.close()
        stop(proc)


def median_of(results: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


ROWS = [  # key, label, unit format, higher is better, goal text, goal test on (ours, theirs)
    ("sequential_prompts_s", "sequential mock prompts/s, one client", "{:,.0f}", True, "≥ 0.8x",
     lambda o, t: o >= 0.8 * t),
    ("concurrent_prompts_s", f"{CONCURRENT} concurrent sessions, prompts/s", "{:,.0f}", True, "≥ 1.0x",
     lambda o, t: o >= t),
    ("cold_start_ms", "cold start: spawn → agents listed (ms)", "{:,.0f}", False, "≤ 4x", lambda o, t: o <= 4 * t),
    ("accepting_ms", "... of which spawn → port accepts connections (ms)", "{:,.0f}", False, "-", None),
    ("idle_rss_mb", "idle RSS (MB)", "{:.1f}", False, "≤ 40 MB", lambda o, t: o <= 40),
    ("rss_100_sessions_mb", f"daemon RSS with {SESSIONS} mock sessions (MB)", "{:.1f}", False, "≤ 60 MB",
     lambda o, t: o <= 60),
    ("growth_per_session_kb", "daemon growth per session, idle → 100 (KB)", "{:.0f}", False, "flat", None),
    ("growth_50_to_100_kb", "daemon growth per session, 50 → 100 (KB)", "{:.0f}", False, "flat", None),
    ("children_rss_mb", f"agent children RSS, sum of {SESSIONS} (MB)", "{:.0f}", False, "-", None),
    ("sequential_p50_ms", "one prompt round trip p50 (ms)", "{:.2f}", False, "-", None),
    ("concurrent_p99_ms", f"prompt latency p99, {CONCURRENT} sessions (ms)", "{:.2f}", False, "-", None),
    ("seq_cpu_daemon_ms", "CPU per sequential prompt: daemon (ms)", "{:.3f}", False, "-", None),
    ("seq_cpu_children_ms", "... agent child (ms)", "{:.3f}", False, "-", None),
    ("seq_cpu_client_ms", "... benchmark client (ms)", "{:.3f}", False, "-", None),
    ("con_cpu_daemon_ms", f"CPU per prompt, {CONCURRENT} sessions: daemon (ms)", "{:.3f}", False, "-", None),
    ("con_cpu_children_ms", "... agent children (ms)", "{:.3f}", False, "-", None),
    ("con_cpu_client_ms", "... benchmark client (ms)", "{:.3f}", False, "-", None),
    ("ceiling_prompts_s", f"{CONCURRENT} sessions, prompts/s if the daemon cost no CPU (cores / client+children CPU)",
     "{:,.0f}", True, "-", None),
]


def table(theirs: dict[str, float], ours: dict[str, float], fan: dict[str, float] | None) -> str:
    out = [f"| figure | Rust {PEER_VERSION} | ours | ratio ours/theirs | goal |", "|---|---|---|---|---|"]
    for key, label, fmt, higher, goal, test in ROWS:
        o, t = ours[key], theirs[key]
        ratio = f"{o / t:.2f}x ({'higher' if higher else 'lower'} is better)" if t else "-"
        verdict = "" if test is None else (" — met" if test(o, t) else " — not met")
        out.append(f"| {label} | {fmt.format(t)} | {fmt.format(o)} | {ratio} | {goal}{verdict} |")
    if fan:
        out.append(
            f"| fan-out to {SUBSCRIBERS} subscribers, events/s delivered in total (prompts/s) | - | "
            f"{fan['events_s']:,.0f} ({fan['prompts_s']:,.0f}) | - | - |"
        )
        out.append(f"| fan-out p99 delivery lag (ms, 1 ms resolution) | - | {fan['lag_p99_ms']:.1f} | - | - |")
        out.append(
            f"| same with one subscriber reading nothing: events/s, p99 lag | - | {fan['slow_events_s']:,.0f}, "
            f"{fan['slow_lag_p99_ms']:.1f} ms | {fan['slow_events_s'] / fan['events_s']:.2f}x of without | ≈ 1.0x |"
        )
        closed = f"{fan['overflow_runs']:.0f} of {fan['runs']:.0f} run(s)"
        stalled = f"{fan['stalled_cutoffs']:.0f} of {fan['runs']:.0f}"
        out.append(f"| the slow subscriber gets subscription_closed overflow | - | {closed} | - | every run |")
        out.append(f"| ... cut off while it still reads nothing (else: once it reads again) | - | {stalled} | - | - |")
        rss = f"{fan['rss_before_slow_mb']:.1f} -> {fan['rss_stalled_mb']:.1f}"
        out.append(f"| daemon RSS (MB) before the slow subscriber -> when it is read again | - | {rss} | - | - |")
    return "\n".join(out)


async def run_all(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    peer = Target("theirs", work)
    peer.binary = ensure_peer()
    peer.env = scratch_env(work / "peer-home")
    peer.env["RUST_LOG"] = "warn"  # as ours runs at --log-level warning
    install_mock(peer.binary, peer.env)
    ours = Target("ours", work)
    stop(ours.start()[0])  # writes the .pyc of anything changed since the last run: not a cold start we count
    runs: dict[str, list[dict[str, float]]] = {"theirs": [], "ours": [], "fanout": []}
    for i in range(args.runs):
        order = [peer, ours] if i % 2 == 0 else [ours, peer]
        for t in order:
            r = await memory_phase(t)
            r |= await throughput_phase(t, args.seconds)
            runs[t.name].append(r)
            print(f"run {i + 1} {t.name}: " + ", ".join(f"{k}={v:.1f}" for k, v in r.items()), file=sys.stderr)
        if args.fanout:
            f = await fanout_phase(ours, args.seconds, SUBSCRIBERS)
            runs["fanout"].append(f)
            print(f"run {i + 1} fanout: " + ", ".join(f"{k}={v:.1f}" for k, v in f.items()), file=sys.stderr)
    return {
        "peer": f"sandbox-agent {PEER_VERSION} (Rust)",
        "runs": args.runs,
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "theirs": median_of(runs["theirs"]),
        "ours": median_of(runs["ours"]),
        "fanout": median_of(runs["fanout"]) | {
            "overflow_runs": sum(f["slow_overflowed"] for f in runs["fanout"]),
            "stalled_cutoffs": sum(f["cut_off_while_stalled"] for f in runs["fanout"]),
            "runs": len(runs["fanout"]),
        }
        if runs["fanout"]
        else None,
        "all_runs": runs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each measured prompt window")
    ap.add_argument("--fanout", action="store_true", help="also: ours, one session streamed to 50 subscribers")
    ap.add_argument("--json", action="store_true", help="print the medians and every run as JSON")
    args = ap.parse_args()
    if not 1 <= args.runs <= 10 or not 0.5 <= args.seconds <= 60:
        ap.error("keep the load bounded: --runs 1..10, --seconds 0.5..60")

    def on_signal(signum: int, frame: object) -> None:
        reap_all()  # first, in case the unwinding below is cut short
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started in the background, where SIGINT is ignored
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    try:
        with tempfile.TemporaryDirectory(prefix="compare-peer-") as work, runner:
            result = runner.run(run_all(args, Path(work)))
    except KeyboardInterrupt:
        print("interrupted; every process started here was killed", file=sys.stderr)
        sys.exit(130)
    finally:
        reap_all()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"sandbox-agent (ours) vs sandbox-agent {PEER_VERSION} (Rust), mock agent, loopback, "
        f"median of {args.runs} alternating runs, {args.seconds:g} s windows, {os.cpu_count()} cores\n"
    )
    print(table(result["theirs"], result["ours"], result["fanout"]))


if __name__ == "__main__":
    main()
