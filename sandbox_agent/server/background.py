"""`sandbox-agent daemon run|start|stop|status`: the state dir's shared daemon as a background service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ..statedir import (
    EXIT_OWNED,
    LOG_FILE,
    AttachFailed,
    StateDirOwned,
    attach,
    is_owned,
    read_pid_file,
    spawn_daemon,
)

if TYPE_CHECKING:  # `daemon start|stop|status` and `server` on an owned dir only talk to a daemon (~250 ms less)
    from .daemon import Daemon

log = logging.getLogger(__name__)

LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3
IDLE_CHECK_SECONDS = 1.0


def log_to_file(state_dir: Path, level: str, max_bytes: int = LOG_MAX_BYTES, fmt: str = "text") -> logging.Handler:
    """The daemon's log in its state dir, rotated by size (`daemon.log`, `.1` .. `.3`), text or JSON lines,
    secrets scrubbed (ops/logs.py)."""
    from ..ops.logs import configure

    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return configure(level, fmt, file=state_dir / LOG_FILE, max_bytes=max_bytes, backups=LOG_BACKUPS)


async def _idle_watch(daemon: Daemon, idle_exit: float | None, stop: asyncio.Event) -> None:
    if not idle_exit or idle_exit <= 0:
        return
    while not stop.is_set():
        await asyncio.sleep(min(IDLE_CHECK_SECONDS, idle_exit / 4))
        if daemon.idle_for() >= idle_exit:
            log.info("no clients and no running turn for %.0fs: exiting", idle_exit)
            stop.set()


async def run_daemon(
    daemon: Daemon,
    idle_exit: float | None,
    http: tuple[str, int, str | None] | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT (or idleness); agents are stopped and live sessions end as terminated."""
    try:
        await daemon.start()
    except StateDirOwned as exc:
        log.info("%s", exc)
        return EXIT_OWNED
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.ensure_future(_idle_watch(daemon, idle_exit, stop))
    server_task: asyncio.Future[Any] | None = None
    try:
        if http is not None:
            from .run import start_http

            host, port, token = http
            server, server_task = await start_http(daemon, host, port, token)
            daemon.write_pid_file()
            await asyncio.wait([server_task, asyncio.ensure_future(stop.wait())], return_when="FIRST_COMPLETED")
            server.should_exit = True
            await server_task
        else:
            await stop.wait()
    finally:
        watcher.cancel()
        log.info("stopping: agents are stopped, live sessions end as terminated by the daemon")
        await daemon.stop()
    return 0


def start_background(state_dir: Path, run_args: list[str], timeout: float = 30.0) -> dict[str, Any]:
    """Start the shared daemon detached and wait until it answers on its socket."""
    if is_owned(state_dir):
        info = read_pid_file(state_dir) or {}
        return {"already_running": True, **info}
    child = spawn_daemon(state_dir, run_args)
    wants_http = "--port" in run_args
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_pid_file(state_dir)
        # the pid file is rewritten once the HTTP port is bound, so wait for that when one was asked for
        if info and info.get("pid") == child.pid and (not wants_http or "http" in info):
            return {"already_running": False, **info}
        code = child.poll()
        if code == EXIT_OWNED:
            return {"already_running": True, **(read_pid_file(state_dir) or {})}
        if code is not None:
            raise AttachFailed(f"the daemon exited with code {code}; see {state_dir / 'daemon.stderr'}")
        time.sleep(0.02)
    raise AttachFailed(f"the daemon did not become ready within {timeout:.0f}s")


def stop_background(state_dir: Path, timeout: float = 20.0) -> str:
    """SIGTERM the owner and wait for its lock to drop; SIGKILL after `timeout`."""
    info = read_pid_file(state_dir)
    if not is_owned(state_dir) or not info or not isinstance(info.get("pid"), int):
        return "not running"
    pid = int(info["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_owned(state_dir):
            return f"stopped (pid {pid})"
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return f"killed (pid {pid}) after {timeout:.0f}s"


async def listen_on_owner(state_dir: Path, host: str, port: int, token: str | None, no_token: bool) -> int:
    """`server` on a state dir another daemon owns: that daemon serves HTTP for as long as this process runs."""
    reader, writer = await attach(state_dir, start=False, timeout=10)
    params = {"host": host, "port": port, "token": token, "no_token": no_token}
    writer.write(orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "daemon/listen", "params": params}) + b"\n")
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 30)
    reply = orjson.loads(line) if line else {"error": {"message": "the daemon closed the connection"}}
    if "error" in reply:
        raise AttachFailed(str(reply["error"].get("message")))
    info = read_pid_file(state_dir) or {}
    print(
        f"sandbox-agent listening on {reply['result']['url']} (served by the daemon pid {info.get('pid')})",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gone = asyncio.ensure_future(reader.read())  # EOF: the daemon went away
    await asyncio.wait([gone, asyncio.ensure_future(stop.wait())], return_when="FIRST_COMPLETED")
    writer.close()  # the daemon closes the listener when this connection ends
    return 0 if stop.is_set() else 1


async def query_status(state_dir: Path) -> dict[str, Any]:
    """pid, uptime, version, address and session counts of the running daemon (raises AttachFailed)."""
    reader, writer = await attach(state_dir, start=False, timeout=5)
    try:
        calls = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
            {"jsonrpc": "2.0", "id": 2, "method": "sessions/list", "params": {}},
        ]
        writer.write(b"\n".join(orjson.dumps(c) for c in calls) + b"\n")
        await writer.drain()
        replies: dict[int, Any] = {}
        while len(replies) < 2:
            line = await asyncio.wait_for(reader.readline(), 10)
            if not line:
                raise AttachFailed("the daemon closed the connection")
            msg = orjson.loads(line)
            if isinstance(msg, dict) and msg.get("id") in (1, 2):
                replies[msg["id"]] = msg.get("result")
    finally:
        writer.close()
    info = read_pid_file(state_dir) or {}
    counts: dict[str, int] = {}
    for s in replies[2] or []:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    started = float(info.get("started_at") or time.time())
    return {
        "pid": info.get("pid"),
        "version": (replies[1] or {}).get("server_info", {}).get("version"),
        "uptime_s": round(time.time() - started, 1),
        "state_dir": str(state_dir),
        "socket": info.get("socket"),
        "http": info.get("http"),
        "sessions": {"total": sum(counts.values()), **counts},
    }
