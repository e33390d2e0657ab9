"""Helpers for benchmarks/compare_peer.py: install and run the Rust original, raw HTTP, process bookkeeping.

The Rust original (rivet-dev sandbox-agent 0.4.2, ../shared/PEER.md) is installed once from npm into
$XDG_DATA_HOME/sandbox-agent-bench/peer and run with HOME/XDG_* pointed at a scratch folder, so it never touches
the user's own config. Every process started here is remembered by PID and killed (with the descendants seen while
it ran) by `reap_all()`, which compare_peer.py calls on exit, Ctrl-C and SIGTERM. The raw loopback clients used
for both daemons (keep-alive HTTP, a metrics scrape, a WebSocket subscriber that reads nothing) live here too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

PEER_VERSION = "0.4.2"
PEER_PACKAGE = f"@sandbox-agent/cli-linux-x64@{PEER_VERSION}"


def peer_dir() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "sandbox-agent-bench" / "peer"


def ensure_peer() -> Path:
    """The Rust binary, installed with npm on first use only."""
    prefix = peer_dir()
    binary = prefix / "node_modules" / "@sandbox-agent" / "cli-linux-x64" / "bin" / "sandbox-agent"
    version_ok = binary.exists() and PEER_VERSION in _run([str(binary), "--version"])
    if not version_ok:
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(prefix), PEER_PACKAGE], check=True, capture_output=True)
    if not binary.exists():
        raise RuntimeError(f"npm installed {PEER_PACKAGE} but {binary} is missing")
    return binary


def install_mock(binary: Path, env: dict[str, str]) -> None:
    """Its mock is not installed on demand (../shared/PEER.md): a fresh HOME needs this once."""
    subprocess.run([str(binary), "install-agent", "mock"], env=env, check=True, capture_output=True, timeout=60)


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def scratch_env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HOME=str(scratch),
        XDG_DATA_HOME=str(scratch / "data"),
        XDG_CONFIG_HOME=str(scratch / "config"),
        XDG_CACHE_HOME=str(scratch / "cache"),
        XDG_STATE_HOME=str(scratch / "state"),
    )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- process bookkeeping -------------------------------------------------------------------------------------

_STARTED: dict[int, subprocess.Popen[bytes]] = {}
_SEEN_DESCENDANTS: set[int] = set()


def spawn(cmd: list[str], env: dict[str, str] | None, cwd: Path | None, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    _STARTED[proc.pid] = proc
    return proc


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = []
        try:  # a multi-threaded parent (tokio) spawns from any thread: read every thread's list
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids += [int(k) for k in f.read().split()]
        except OSError:
            pass
        found += kids
        todo += kids
    _SEEN_DESCENDANTS.update(found)
    return found


def installed_env() -> dict[str, str]:
    """This environment without PYTHONDONTWRITEBYTECODE: an installed package has its .pyc, and with that variable
    set a daemon compiles every module changed since its .pyc was written again at every start."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process, all its threads, not its children (0 once it is gone); 10 ms
    ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent during a window by the daemon, its descendants (the agent children) and this process
    (the benchmark client): where each prompt's CPU goes, on the same 2 cores."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.kids = descendants(pid)
        self.start = self._read()

    def _read(self) -> tuple[float, float, float]:
        return cpu_seconds(self.pid), sum(cpu_seconds(k) for k in self.kids), time.process_time()

    def per_prompt_ms(self, prompts: int) -> dict[str, float]:
        end = self._read()
        daemon, kids, client = ((e - s) * 1000 / max(prompts, 1) for s, e in zip(self.start, end, strict=True))
        return {"daemon": daemon, "children": kids, "client": client}


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Terminate one started process, then SIGKILL it and whatever it spawned that is still alive."""
    kids = descendants(proc.pid)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    _STARTED.pop(proc.pid, None)
    _kill_pids(kids)


def _kill_pids(pids: list[int] | set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, 9)
        except OSError:  # already gone (or reused by nobody we can signal)
            pass


def reap_all() -> None:
    for proc in list(_STARTED.values()):
        descendants(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    _STARTED.clear()
    _kill_pids(_SEEN_DESCENDANTS)
    _SEEN_DESCENDANTS.clear()


# --- HTTP -----------------------------------------------------------------------------------------------------


def http_request(method: str, path: str, port: int, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def _status_and_length(head: bytes) -> tuple[int, int]:
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, length


def cold_start(cmd: list[str], env: dict[str, str], cwd: Path | None, log: Path, port: int, request: bytes,
               timeout: float = 30.0) -> tuple[subprocess.Popen[bytes], float, float]:
    """Spawn, then try `request` every 2 ms on a fresh connection until it answers 200.

    Returns (process, seconds to the answer, seconds to the first accepted connection)."""
    t0 = time.perf_counter()
    proc = spawn(cmd, env, cwd, log)
    accepted = 0.0
    while time.perf_counter() - t0 < timeout:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                accepted = accepted or time.perf_counter() - t0
                s.sendall(request)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise ConnectionError
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                status, length = _status_and_length(head)
                while len(rest) < length:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise ConnectionError
                    rest += chunk
                if status == 200:
                    return proc, time.perf_counter() - t0, accepted
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited with {proc.returncode} before answering; see {log}")
        time.sleep(0.002)
    raise RuntimeError(f"{cmd[0]} did not answer within {timeout} s; see {log}")


class HttpConn:
    """One keep-alive HTTP/1.1 connection on loopback: the least client work per request we can manage."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def open(self) -> HttpConn:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        self.writer.write(http_request(method, path, self.port, body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, length = _status_and_length(head[:-4])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


class PeerClient:
    """The Rust original's ACP-over-HTTP API: one agent process per server id."""

    def __init__(self, port: int) -> None:
        self.http = HttpConn(port)
        self.ids = itertools.count(1)

    async def open(self) -> PeerClient:
        await self.http.open()
        return self

    async def _acp(self, server_id: str, method: str, params: dict[str, Any]) -> Any:
        body = orjson.dumps({"jsonrpc": "2.0", "id": next(self.ids), "method": method, "params": params})
        status, reply = await self.http.request("POST", f"/v1/acp/{server_id}?agent=mock", body)
        msg = orjson.loads(reply)
        if status != 200 or "result" not in msg:
            raise RuntimeError(f"{method} on {server_id}: HTTP {status} {reply[:200]!r}")
        return msg["result"]

    async def new_session(self, name: str) -> str:
        await self._acp(name, "initialize", {"protocolVersion": 1, "clientCapabilities": {}})
        await self._acp(name, "session/new", {"cwd": "/tmp", "mcpServers": []})
        return name

    async def prompt(self, sid: str, n: int) -> None:
        await self._acp(sid, "session/prompt", {"sessionId": sid, "prompt": [{"type": "text", "text": f"hi {n}"}]})

    async def close(self) -> None:
        self.http.close()


async def overflows(port: int) -> float:
    http = await HttpConn(port).open()
    try:
        status, body = await http.request("GET", "/v1/metrics")
    finally:
        http.close()
    for line in body.decode().splitlines():
        if line.startswith("sandbox_agent_subscription_overflows"):
            return float(line.split()[-1])
    return -1.0 if status == 200 else -2.0


async def slow_subscriber(port: int, sid: str, offset: int) -> Any:
    """A subscriber that reads nothing after the subscribe reply: tiny receive buffer, one-frame client queue."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    ws = await connect(
        f"ws://127.0.0.1:{port}/v1/rpc", sock=sock, compression=None, max_queue=1, ping_interval=None, max_size=None
    )
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sessions/subscribe",
                              "params": {"session_id": sid, "offset": offset}}))
    while "id" not in (reply := orjson.loads(await ws.recv())):
        pass
    if "error" in reply:
        raise RuntimeError(f"slow subscribe: {reply['error']}")
    return ws


async def drain(ws: Any, idle: float = 2.0) -> tuple[str, int]:
    """Read the slow subscriber at last, until it is closed or quiet for `idle` s: (close reason, events got)."""
    got = 0
    while True:
        try:
            msg = orjson.loads(await asyncio.wait_for(ws.recv(), idle))
        except TimeoutError:
            return "still open", got
        except ConnectionClosed:
            return "connection closed", got
        if msg.get("method") == "sessions/event":
            got += 1
        elif msg.get("method") == "sessions/subscription_closed":
            return msg["params"]["reason"], got
