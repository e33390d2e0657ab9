"""Ended sessions nobody uses are parked (a few fields instead of a Session) and load back on use, unchanged."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import orjson
import pytest

from sandbox_agent.ops.metrics import render
from sandbox_agent.rpc.dispatcher import _dump
from sandbox_agent.rpc.errors import AppError
from sandbox_agent.server.api import api
from sandbox_agent.server.client_context import ClientContext
from sandbox_agent.server.daemon import Daemon
from sandbox_agent.sessions.parking import ParkedSession

pytestmark = pytest.mark.anyio


async def call(daemon: Daemon, method: str, **params: Any) -> Any:
    result = await api.call(method, params, ClientContext(daemon, None))
    return orjson.loads(orjson.dumps(_dump(result)))


async def ended_sessions(daemon: Daemon, n: int) -> dict[str, Any]:
    for i in range(n):
        sid = f"s{i}"
        await call(daemon, "sessions/create", agent="mock", session_id=sid)
        for turn in range(3):
            await call(daemon, "sessions/prompt", session_id=sid, message=f"everything {turn}")
        await call(daemon, "sessions/terminate", session_id=sid)
    daemon.journal.flush()  # type: ignore[union-attr]
    return {info["session_id"]: info for info in await call(daemon, "sessions/list")}


async def test_parked_sessions_read_the_same_and_resume(tmp_path: Path) -> None:
    daemon = Daemon(state_dir=tmp_path / "state")
    await daemon.start()
    try:
        before = await ended_sessions(daemon, 3)
        events = (await call(daemon, "sessions/events", session_id="s1", offset=0, limit=1000))["events"]
        usage = await call(daemon, "sessions/usage")
        manager = daemon.sessions
        held = manager.get("s2")  # a call still holding its session while it is parked
        gone = weakref.ref(manager.get("s0"))
        assert manager.park_unused(0) == 3
        assert not manager.sessions and set(manager.parked) == {"s0", "s1", "s2"}
        gc.collect()
        assert gone() is None, "a parked session is freed (nothing keeps it alive)"

        assert {i["session_id"]: i for i in await call(daemon, "sessions/list")} == before
        assert await call(daemon, "sessions/usage") == usage
        assert "s1" not in manager.sessions, "listing and usage read parked sessions without loading them"
        metrics = render(daemon)[0].decode()
        assert 'sandbox_agent_sessions{agent="mock",status="ended"} 3.0' in metrics

        # use loads it back: the same events, and the same object a call still holds
        assert (await call(daemon, "sessions/events", session_id="s1", offset=0, limit=1000))["events"] == events
        assert manager.get("s2") is held
        with pytest.raises(AppError) as exc:
            await call(daemon, "sessions/create", agent="mock", session_id="s0")
        assert exc.value.kind == "session_exists"

        # resume continues the same transcript with the next sequence numbers
        manager.park_unused(0)
        n = before["s0"]["event_count"]
        await call(daemon, "sessions/resume", session_id="s0")
        reply = await call(daemon, "sessions/prompt", session_id="s0", message="hello again")
        assert reply["text"]
        tail = (await call(daemon, "sessions/events", session_id="s0", offset=n, limit=100))["events"]
        assert tail[0]["sequence"] == n + 1 and tail[0]["type"] == "session.started"
        assert manager.park_unused(0) == 0, "a live session is never parked"
    finally:
        await daemon.stop()


async def test_a_restarted_daemon_keeps_ended_sessions_parked(tmp_path: Path) -> None:
    state = tmp_path / "state"
    daemon = Daemon(state_dir=state)
    await daemon.start()
    try:
        before = await ended_sessions(daemon, 2)
    finally:
        await daemon.stop()
    daemon = Daemon(state_dir=state)
    await daemon.start()
    try:
        manager = daemon.sessions
        assert not manager.sessions and all(isinstance(p, ParkedSession) for p in manager.parked.values())
        assert {i["session_id"]: i for i in await call(daemon, "sessions/list")} == before
        assert not manager.sessions, "their info is read from the journal, not by keeping them loaded"
        got = await call(daemon, "sessions/get", session_id="s1")
        assert got == before["s1"] and "s1" in manager.sessions
        with pytest.raises(AppError):
            await call(daemon, "sessions/get", session_id="nope")
    finally:
        await daemon.stop()
