"""Our cold start and idle memory, without the Rust original: what issue 13's start-up and memory rows measure.

    python benchmarks/startup.py [--runs 5] [--importtime N] [--smaps]

- cold start: spawn `python -m sandbox_agent server` → first 200 answer to `agents/list` (POST /v1/rpc), a fresh
  connection tried every 2 ms (the same probe as compare_peer.py);
- CPU to answer: the daemon's user + system CPU time at that answer (10 ms ticks; steadier than wall time when
  other work shares the cores);
- idle RSS: VmRSS of the daemon 1 s after that answer;
- mock child RSS: VmRSS of one mock agent child (sessions/create + one prompt), 0.5 s after its turn;
- `--importtime N`: one more run under `python -X importtime`; prints the N slowest imports (cumulative) made
  before the first answer, and the number of modules imported;
- `--smaps`: the idle daemon's /proc/<pid>/smaps_rollup.
The daemon runs without PYTHONDONTWRITEBYTECODE and once before the counted runs, so it loads bytecode from
.pyc files like an installed package does (with that variable set, every module changed since its .pyc was last
written is compiled again at every start).
Medians over the runs; the load average is printed because the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peer import (
    cold_start,
    cpu_seconds,
    descendants,
    free_port,
    http_request,
    installed_env,
    reap_all,
    rss_mb,
    stop,
)

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"


def _rpc(port: int, method: str, params: dict) -> dict:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/rpc", body, {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def one_run(work: Path, extra: list[str], mock: bool, tree: Path = ROOT) -> dict:
    port = free_port()
    state = tempfile.mkdtemp(prefix="state-", dir=work)
    cmd = [str(PYTHON), *extra, "-m", "sandbox_agent", "server", "--no-token", "--port", str(port)]
    cmd += ["--state-dir", state, "--log-level", "warning"]
    body = b'{"jsonrpc":"2.0","id":1,"method":"agents/list","params":{}}'
    log = work / f"server-{port}.log"
    proc, cold, _ = cold_start(cmd, installed_env(), tree, log, port, http_request("POST", "/v1/rpc", port, body))
    out = {"cold_ms": cold * 1000, "cpu_ms": cpu_seconds(proc.pid) * 1000, "log": log, "pid": proc.pid}
    try:
        time.sleep(1.0)
        out["idle_mb"] = rss_mb(proc.pid)
        with open(f"/proc/{proc.pid}/smaps_rollup") as f:
            out["smaps"] = f.read()
        if mock:
            sid = _rpc(port, "sessions/create", {"agent": "mock"})["result"]["session_id"]
            _rpc(port, "sessions/prompt", {"session_id": sid, "message": "hi"})
            time.sleep(0.5)
            kids = descendants(proc.pid)
            out["mock_mb"] = max((rss_mb(k) for k in kids), default=0.0)
    finally:
        stop(proc)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--importtime", type=int, default=0, metavar="N")
    ap.add_argument("--smaps", action="store_true")
    ap.add_argument("--tree", type=Path, default=ROOT, help="run the sandbox_agent package found in this directory")
    ap.add_argument("--against", type=Path, help="a second tree, run alternately with --tree (before/after)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        work = Path(tmp)
        try:
            trees = [args.tree] + ([args.against] if args.against else [])
            for tree in trees:  # writes the .pyc of anything changed since the last run; not counted
                one_run(work, [], mock=False, tree=tree)
            by_tree: dict[Path, list[dict]] = {tree: [] for tree in trees}
            for _ in range(args.runs):
                for tree in trees:
                    by_tree[tree].append(one_run(work, [], mock=True, tree=tree))
            runs = by_tree[args.tree]
            if args.importtime:
                run = one_run(work, ["-X", "importtime"], mock=False, tree=args.tree)
                rows = []
                for line in run["log"].read_text().splitlines():
                    if line.startswith("import time:") and "|" in line:
                        _, cum, name = line[len("import time:"):].split("|")
                        if cum.strip().isdigit():
                            rows.append((int(cum), name.rstrip()))
                print(f"importtime: {len(rows)} modules imported before the first answer; slowest (cumulative µs):")
                for cum, name in sorted(rows, reverse=True)[: args.importtime]:
                    print(f"  {cum:>8} {name}")
        finally:
            reap_all()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for tree, tree_runs in by_tree.items():
        if len(by_tree) > 1:
            print(f"--- {tree}")
        _print_medians(tree_runs)
    if args.smaps:
        print(runs[-1]["smaps"])
    return 0


def _print_medians(runs: list[dict]) -> None:
    med = {k: statistics.median(r[k] for r in runs) for k in ("cold_ms", "cpu_ms", "idle_mb", "mock_mb")}
    print(f"cold start ms: median {med['cold_ms']:.0f}  runs {[round(r['cold_ms']) for r in runs]}")
    print(f"CPU to answer: median {med['cpu_ms']:.0f} ms  runs {[round(r['cpu_ms']) for r in runs]}")
    print(f"idle RSS MB:   median {med['idle_mb']:.1f}  runs {[round(r['idle_mb'], 1) for r in runs]}")
    print(f"mock child MB: median {med['mock_mb']:.1f}  runs {[round(r['mock_mb'], 1) for r in runs]}")


if __name__ == "__main__":
    sys.exit(main())
