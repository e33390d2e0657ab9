"""One daemon per state dir, shared by every client: real processes (server, stdio relays, mcp, SDK clients)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox_agent.client import AlreadyResolved, SandboxAgent
from sandbox_agent.statedir import is_owned, read_pid_file

from .conftest import ROOT

pytestmark = pytest.mark.anyio

CLI = [sys.executable, "-m", "sandbox_agent"]


class StdioClient:
    """A real `sandbox-agent stdio` child (attach mode: a relay to the shared daemon)."""

    def __init__(self, state_dir: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "stdio", "--state-dir", str(state_dir), "--log-level", "warning", *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        self._id = 0
        self.notifications: list[dict[str, Any]] = []

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> dict[str, Any]:
        self._id += 1
        req = {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params or {}}
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(req).encode() + b"\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("stdio client closed: " + (self.proc.stderr.read() or b"").decode())  # type: ignore[union-attr]
            msg = json.loads(line)
            if msg.get("id") == self._id:
                return msg
            self.notifications.append(msg)
        raise TimeoutError(method)

    def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        reply = self.call(method, params)
        assert "result" in reply, reply
        return reply["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def daemon_pid(state_dir: Path) -> int:
    info = read_pid_file(state_dir)
    assert info is not None
    return int(info["pid"])


def kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)  # a zombie of another parent still answers kill(0); the lock is what counts


def stop_daemon(state_dir: Path) -> None:
    subprocess.run([*CLI, "daemon", "stop", "--state-dir", str(state_dir)], capture_output=True, timeout=60)


def journal_events(state_dir: Path, session_id: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(state_dir / "journal.sqlite3")
    try:
        rows = db.execute("SELECT body FROM events WHERE session_id = ? ORDER BY seq", (session_id,)).fetchall()
    finally:
        db.close()
    return [json.loads(r[0]) for r in rows]


async def test_stdio_mcp_server_and_sdk_share_sessions(tmp_path: Path, server_factory) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    a, b = StdioClient(state), StdioClient(state)  # the first starts the shared daemon, the second attaches
    a.result("agents/list")
    srv = server_factory(state_dir=state)  # the owner serves HTTP for it
    try:
        a.result("sessions/create", {"agent": "mock", "session_id": "shared"})
        assert [s["session_id"] for s in b.result("sessions/list")] == ["shared"]
        assert [s["session_id"] for s in srv.rpc("sessions/list")["result"]] == ["shared"]
        sub = b.result("sessions/subscribe", {"session_id": "shared", "offset": 0})["subscription_id"]
        async with await SandboxAgent.connect(srv.url, srv.token) as ws:
            seen: list[int] = []

            async def follow() -> None:
                async for e in ws.session("shared").events(0):
                    seen.append(e.sequence)
                    if e.type == "turn.ended":
                        return

            follower = asyncio.ensure_future(follow())
            await asyncio.sleep(0.2)
            reply = a.result("sessions/prompt", {"session_id": "shared", "message": "from a"})
            assert reply["text"] == "You said: from a"
            await asyncio.wait_for(follower, 20)
        # the stdio subscriber got the same events, notifications after its subscribe result
        b.call("sessions/get", {"session_id": "shared"})
        got = [n["params"]["event"]["sequence"] for n in b.notifications if n.get("method") == "sessions/event"]
        assert got == seen == list(range(1, len(seen) + 1))
        assert all(
            n["params"]["subscription_id"] == sub for n in b.notifications if n.get("method") == "sessions/event"
        )
        # the MCP facade attaches to the same daemon and sees the session
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(
            command=sys.executable, args=["-m", "sandbox_agent", "mcp", "--state-dir", str(state)], cwd=str(ROOT)
        )
        async with stdio_client(params) as (r, w), ClientSession(r, w) as mcp_session:
            await mcp_session.initialize()
            listed = await mcp_session.call_tool("get_events", {"session_id": "shared"})
            assert "You said: from a" in str(listed.content)
        # one daemon owns the journal: the one the first stdio client started
        assert daemon_pid(state) != srv.proc.pid and is_owned(state)
    finally:
        a.close()
        b.close()
        srv.stop()
        stop_daemon(state)


async def test_first_answer_wins_and_one_resolution(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with await SandboxAgent.start(state_dir=state) as one, await SandboxAgent.start(state_dir=state) as two:
        s1 = await one.create_session("mock", session_id="perm")
        turn = await s1.send("permission notes.txt")
        s2 = two.session("perm")
        req = None
        async for e in s2.events(0):
            if e.type == "permission.requested":
                req = e
                break
        assert req is not None
        pid = req.data.permission_id  # type: ignore[union-attr]
        results = await asyncio.gather(
            s1.reply_permission(pid, "once"), s2.reply_permission(pid, "reject", "no"), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1 and isinstance(errors[0], AlreadyResolved) and errors[0].kind == "already_resolved"
        assert errors[0].code == -32032
        events, _, _ = await two.read_events("perm", 0, 1000)
        for _ in range(100):
            if any(e.type == "turn.ended" and e.data.turn_id == turn for e in events):  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.05)
            events, _, _ = await two.read_events("perm", 0, 1000)
        resolved = [e for e in events if e.type == "permission.resolved"]
        assert len(resolved) == 1
        with pytest.raises(AlreadyResolved) as late:
            await s2.reply_permission(pid, "once")
        assert late.value.kind == "already_resolved"


async def test_read_your_writes_on_every_transport(tmp_path: Path, server_factory) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    srv = server_factory(state_dir=state)
    relay = StdioClient(state)
    try:
        relay.result("sessions/create", {"agent": "mock", "session_id": "ryw"})
        for i in range(5):  # each read starts after the turn before, so it must end with this turn's turn.ended
            turn = relay.result("sessions/prompt", {"session_id": "ryw", "message": f"everything {i}"})["turn_id"]
            offset = int(turn.removeprefix("turn_")) - 1
            events = relay.result("sessions/events", {"session_id": "ryw", "offset": offset, "limit": 1000})["events"]
            assert events[-1]["type"] == "turn.ended" and events[-1]["data"]["turn_id"] == turn
            turn = srv.rpc("sessions/prompt", {"session_id": "ryw", "message": f"tool {i}"})["result"]["turn_id"]
            offset = int(turn.removeprefix("turn_")) - 1
            params = {"session_id": "ryw", "offset": offset, "limit": 1000}
            events = srv.rpc("sessions/events", params)["result"]["events"]
            assert events[-1]["type"] == "turn.ended" and events[-1]["data"]["turn_id"] == turn
        async with (
            await SandboxAgent.connect(srv.url, srv.token) as ws,
            await SandboxAgent.start(state_dir=state) as ux,
        ):
            for client in (ws, ux):
                for i in range(5):
                    turn = (await client.session("ryw").prompt(f"command {i}")).turn_id
                    events, _, _ = await client.read_events("ryw", int(turn.removeprefix("turn_")) - 1, 1000)
                    assert events[-1].type == "turn.ended" and events[-1].data.turn_id == turn  # type: ignore[union-attr]
    finally:
        relay.close()


async def test_subscribe_result_precedes_its_notifications(tmp_path: Path, server_factory) -> None:  # type: ignore[no-untyped-def]
    from websockets.asyncio.client import connect

    srv = server_factory(state_dir=tmp_path / "state")
    srv.rpc("sessions/create", {"agent": "mock", "session_id": "sub"})
    srv.rpc("sessions/prompt", {"session_id": "sub", "message": "everything"})
    url = srv.url.replace("http", "ws") + "/v1/rpc"
    for _ in range(10):
        # close_timeout: a close with notifications still in flight waits for the server's close frame (known,
        # and older than this round); this test is about ordering, not closing
        async with connect(url, additional_headers=srv.headers(), close_timeout=0.2) as ws:
            await ws.send(
                json.dumps({"jsonrpc": "2.0", "id": 7, "method": "sessions/subscribe", "params": {"session_id": "sub"}})
            )
            first = json.loads(await ws.recv())
            assert first.get("id") == 7 and "subscription_id" in first["result"], first


async def test_kill9_daemon_then_next_client_restarts_and_resumes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    relay = StdioClient(state)
    relay.result("sessions/create", {"agent": "mock", "session_id": "k"})
    relay.result("sessions/prompt", {"session_id": "k", "message": "first"})
    old = daemon_pid(state)
    kill9(old)
    relay.proc.wait(15)
    assert relay.proc.returncode != 0  # the relay says its daemon went away instead of hanging
    async with await SandboxAgent.start(state_dir=state) as client:
        assert daemon_pid(state) != old
        info = await client.get_session("k")
        assert info.status == "ended" and info.ended is not None and info.ended.terminated_by == "daemon"
        reply = await client.session("k").prompt("second")  # resumes on a fresh agent process
        assert reply.text == "You said: second"
        events, _, _ = await client.read_events("k", 0, 1000)
    seqs = [e.sequence for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e.type for e in events].count("session.started") == 2
    stop_daemon(state)


async def test_kill9_of_a_client_leaves_the_daemon_alone(tmp_path: Path) -> None:
    state = tmp_path / "state"
    relay = StdioClient(state)
    relay.result("sessions/create", {"agent": "mock", "session_id": "c"})
    relay.call("sessions/send_message", {"session_id": "c", "message": "slow 1"})
    pid = daemon_pid(state)
    relay.proc.kill()
    relay.proc.wait(5)
    async with await SandboxAgent.start(state_dir=state) as client:
        assert daemon_pid(state) == pid
        for _ in range(60):
            if (await client.get_session("c")).status == "idle":
                break
            await asyncio.sleep(0.1)
        info = await client.get_session("c")
        assert info.status == "idle" and info.ended is None
        assert (await client.session("c").prompt("still here")).text == "You said: still here"
    stop_daemon(state)


def test_embedded_refused_on_an_owned_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    up = subprocess.run([*CLI, "daemon", "start", "--state-dir", str(state)], capture_output=True, timeout=60)
    assert up.returncode == 0, up.stderr
    try:
        for cmd in (["stdio", "--embedded"], ["mcp", "--embedded"]):
            done = subprocess.run(
                [*CLI, *cmd, "--state-dir", str(state)], capture_output=True, timeout=60, stdin=subprocess.DEVNULL
            )
            assert done.returncode == 1, cmd
            assert b"is owned by a running daemon (pid" in done.stderr, done.stderr
    finally:
        stop_daemon(state)


def test_daemon_start_status_stop_and_log_rotation(tmp_path: Path) -> None:
    state = tmp_path / "state"
    start = [*CLI, "daemon", "start", "--state-dir", str(state), "--log-level", "debug", "--log-max-bytes", "2000"]
    up = subprocess.run(start, capture_output=True, text=True, timeout=60)
    assert up.returncode == 0 and "started: pid" in up.stdout, up.stderr
    again = subprocess.run(start, capture_output=True, text=True, timeout=60)
    assert "already running" in again.stdout
    assert oct((state / "daemon.sock").stat().st_mode & 0o777) == "0o600"
    status = subprocess.run(
        [*CLI, "daemon", "status", "--state-dir", str(state), "--json"], capture_output=True, text=True, timeout=60
    )
    data = json.loads(status.stdout)
    assert data["running"] and data["pid"] == daemon_pid(state) and data["version"] and data["uptime_s"] >= 0
    assert data["sessions"]["total"] == 0 and data["socket"].endswith("daemon.sock")
    relay = StdioClient(state)
    for i in range(15):  # debug logging of sessions and prompts fills the 2,000-byte log more than once
        relay.result("sessions/create", {"agent": "mock", "session_id": f"s{i}"})
        relay.result("sessions/prompt", {"session_id": f"s{i}", "message": "hi"})
    relay.close()
    human = subprocess.run(
        [*CLI, "daemon", "status", "--state-dir", str(state)], capture_output=True, text=True, timeout=60
    )
    assert "running, pid" in human.stdout and "sessions   15 (15 idle)" in human.stdout
    assert (state / "daemon.log.1").exists() and (state / "daemon.log").stat().st_size <= 4000
    down = subprocess.run(
        [*CLI, "daemon", "stop", "--state-dir", str(state)], capture_output=True, text=True, timeout=60
    )
    assert "stopped" in down.stdout and not is_owned(state)
    # graceful: the live sessions ended as terminated by the daemon
    ended = journal_events(state, "s0")
    assert ended[-1]["type"] == "session.ended" and ended[-1]["data"]["terminated_by"] == "daemon"
    gone = subprocess.run(
        [*CLI, "daemon", "status", "--state-dir", str(state)], capture_output=True, text=True, timeout=60
    )
    assert gone.returncode == 3 and "no daemon is running" in gone.stdout


async def test_idle_daemon_exits_by_itself(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with await SandboxAgent.start(state_dir=state, idle_exit=1) as client:
        await client.create_session("mock", session_id="i")
        pid = daemon_pid(state)
        await asyncio.sleep(2.5)  # a connected client keeps it alive
        assert is_owned(state)
    for _ in range(100):
        if not is_owned(state):
            break
        await asyncio.sleep(0.1)
    assert not is_owned(state)
    await asyncio.sleep(0.5)
    state_line = ""  # the daemon process is gone (or a zombie until this test process, its parent, reaps it)
    with contextlib.suppress(OSError):
        state_line = next(li for li in Path(f"/proc/{pid}/status").read_text().splitlines() if li.startswith("State"))
    assert state_line in ("", "State:\tZ (zombie)"), state_line


@pytest.mark.parametrize("kind", ["permission", "question"])
async def test_hitl_timeout_rejects_and_the_turn_goes_on(tmp_path: Path, kind: str) -> None:
    async with await SandboxAgent.start(ephemeral=True) as client:
        s = await client.create_session("mock", hitl_timeout_s=0.5)
        started = time.monotonic()
        reply = await s.prompt(f"{kind} x", timeout=30)
        assert 0.4 < time.monotonic() - started < 10
        events, _, _ = await client.read_events(s.id, 0, 1000)
        resolved = [e for e in events if e.type == f"{kind}.resolved"]
        assert len(resolved) == 1 and resolved[0].data.reason == "timeout"  # type: ignore[union-attr]
        if kind == "permission":
            assert resolved[0].data.status == "reject"  # type: ignore[union-attr]
            assert "Nobody answered this request within 0.5 seconds" in reply.text  # the agent saw the message
        else:
            assert resolved[0].data.status == "rejected"  # type: ignore[union-attr]
        assert reply.stop_reason == "end_turn"


async def test_daemon_default_hitl_timeout_flag(tmp_path: Path) -> None:
    async with await SandboxAgent.start(state_dir=tmp_path / "st", hitl_timeout_s=0.3) as client:
        s = await client.create_session("mock")
        reply = await s.prompt("permission y", timeout=30)
        assert "Nobody answered" in reply.text
    stop_daemon(tmp_path / "st")


async def test_server_on_an_owned_state_dir_serves_through_the_owner(tmp_path: Path, server_factory) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    relay = StdioClient(state)  # a client first: it starts the shared daemon
    try:
        relay.result("sessions/create", {"agent": "mock", "session_id": "o"})
        owner = daemon_pid(state)
        srv = server_factory(state_dir=state)  # then the server: the owner listens for it
        assert [s["session_id"] for s in srv.rpc("sessions/list")["result"]] == ["o"]
        assert srv.rpc("sessions/prompt", {"session_id": "o", "message": "via http"})["result"]["text"] == (
            "You said: via http"
        )
        async with await SandboxAgent.connect(srv.url, srv.token) as ws:
            assert (await ws.session("o").prompt("via ws")).text == "You said: via ws"
        srv.stop()
        assert daemon_pid(state) == owner and is_owned(state)  # the daemon and its sessions carry on
        assert relay.result("sessions/get", {"session_id": "o"})["status"] == "idle"
    finally:
        relay.close()
        stop_daemon(state)
