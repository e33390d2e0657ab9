"""Transcripts survive: kill -9 the daemon, restart it, and every delivered event is still there."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import pytest

from sandbox_agent.client import SandboxAgent

pytestmark = pytest.mark.anyio


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


async def test_kill_9_loses_nothing_delivered(server_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    srv = server_factory(state_dir=state)
    client = await SandboxAgent.connect(srv.url, srv.token, reconnect=False)
    done = await client.create_session("mock", session_id="done")
    await done.prompt("tool one")
    await done.prompt("file two")
    live = await client.create_session("mock", session_id="live")
    await live.prompt("hello")
    await live.send("slow 30")
    delivered: list[dict] = []
    async with contextlib.aclosing(live.events()) as events:
        async for e in events:
            delivered.append(e.model_dump(mode="json", exclude_none=True))
            if sum(1 for d in delivered if d["type"] == "item.delta" and d["data"]["delta"].startswith("tick")) >= 5:
                break
    mock_pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _is_mock_of(int(p), srv.proc.pid)]
    srv.kill9()
    await client.close()
    # the agents do not outlive the daemon
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in mock_pids) and time.monotonic() < deadline:  # noqa: ASYNC110 - polling /proc
        await asyncio.sleep(0.05)
    assert mock_pids and not any(_alive(p) for p in mock_pids)

    srv2 = server_factory(state_dir=state)
    c2 = await SandboxAgent.connect(srv2.url, srv2.token)
    sessions = {s.session_id: s for s in await c2.list_sessions()}
    assert set(sessions) == {"done", "live"}
    for s in sessions.values():
        assert s.status == "ended"
        assert s.ended is not None and s.ended.reason == "terminated" and s.ended.terminated_by == "daemon"
    stored, _, _ = await c2.read_events("live", 0, 1000)
    dumped = [e.model_dump(mode="json", exclude_none=True) for e in stored]
    assert dumped[: len(delivered)] == delivered, "every delivered event is stored byte for byte"
    tail = [e.type for e in stored[len(delivered) :]]
    assert tail[-2:] == ["turn.ended", "session.ended"]  # the open turn is closed, then the session
    assert [e.sequence for e in stored] == list(range(1, len(stored) + 1))
    done_events, _, _ = await c2.read_events("done", 0, 1000)
    assert sum(e.type == "turn.ended" for e in done_events) == 2
    # a restored session can be resumed and goes on in the same transcript
    resumed = await c2.resume_session("live")
    assert (await resumed.prompt("back again")).text == "You said: back again"
    after, _, _ = await c2.read_events("live", len(stored), 1000)
    assert after[0].sequence == len(stored) + 1 and after[0].type == "session.started"
    await c2.close()


def _is_mock_of(pid: int, daemon_pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
        with open(f"/proc/{pid}/stat") as f:
            ppid = int(f.read().split(") ")[1].split()[1])
    except OSError:
        return False
    return b"mock_agent.py" in cmd and ppid == daemon_pid


async def test_ephemeral_keeps_nothing(tmp_path) -> None:
    state = tmp_path / "eph"
    async with await SandboxAgent.start(state_dir=str(state), ephemeral=True) as c:
        s = await c.create_session("mock")
        await s.prompt("hi")
    assert not state.exists()


async def test_restart_after_clean_shutdown(tmp_path) -> None:
    state = str(tmp_path / "st")
    async with await SandboxAgent.start(state_dir=state, embedded=True) as c:
        s = await c.create_session("mock", session_id="a")
        await s.prompt("remember me")
    async with await SandboxAgent.start(state_dir=state, embedded=True) as c:
        info = await c.get_session("a")
        assert info.status == "ended" and info.ended is not None and info.ended.reason == "terminated"
        events, _, _ = await c.read_events("a", 0, 100)
        texts = [p.text for e in events if e.type == "item.completed" for p in e.data.item.content if p.type == "text"]  # type: ignore[union-attr]
        assert "You said: remember me" in texts
