"""A long-lived daemon's memory does not grow with history: idle and ended sessions hold no event window."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sandbox_agent.schema.content import TextPart
from sandbox_agent.schema.methods import SessionCreateParams
from sandbox_agent.server.daemon import Daemon
from sandbox_agent.sessions.event_log import EventLog
from sandbox_agent.sessions.journal import Journal
from sandbox_agent.sessions.subscription import Subscription

pytestmark = pytest.mark.anyio


async def test_ended_and_idle_sessions_drop_their_event_windows(tmp_path: Path) -> None:
    daemon = Daemon(state_dir=tmp_path / "state")
    await daemon.start()
    try:
        session = await daemon.sessions.create(SessionCreateParams(agent="mock", session_id="m"))
        for i in range(5):
            waiter = await session.send_message([TextPart(text=f"everything {i}")])
            await session.wait_turn(waiter, 30)
        assert session.log.last_seq > 50
        # idle, nobody subscribed: every event is in the journal, none in memory
        assert session.log.in_memory == 0
        # a subscriber on an active session keeps the live window; it goes when the subscriber does
        seen: list[int] = []

        async def deliver(_: str, bodies: list[bytes]) -> None:
            seen.extend(range(len(seen) + 1, len(seen) + 1 + len(bodies)))

        async def closed(*_: object) -> None:
            pass

        sub = Subscription(session.log, 0, deliver, closed, lambda: session.ended)
        sub.start()
        waiter = await session.send_message([TextPart(text="slow 0.3")])
        await asyncio.sleep(0.15)
        assert session.log.in_memory > 0, "an active session with a subscriber keeps its recent events"
        await session.wait_turn(waiter, 30)
        await sub.cancel()
        assert session.log.in_memory == 0
        await daemon.sessions.terminate("m")
        daemon.journal.flush()  # type: ignore[union-attr]
        assert session.ended and session.log.in_memory == 0
        assert session.adapter is None, "an ended session lets go of its adapter (translator maps, stderr)"
        assert not session._waiters and not session._hitl_timers
        # reads still return everything, from the journal
        assert len(session.log.read(0, 10_000)) == session.log.last_seq
    finally:
        await daemon.stop()


async def test_replaying_an_ended_10000_event_session_from_zero(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    log = EventLog("big", journal)
    for i in range(1, 10_001):
        log.append(i, "x", b'{"sequence":%d}' % i)
        if i % 500 == 0:
            await asyncio.sleep(0)
    journal.flush()
    log.idle = True
    log.release()
    assert log.in_memory == 0 and log.visible_seq == 10_000
    got: list[int] = []
    done = asyncio.Event()

    async def deliver(_: str, bodies: list[bytes]) -> None:
        got.extend(int(b[12:-1]) for b in bodies)

    async def closed(*_: object) -> None:
        done.set()

    sub = Subscription(log, 0, deliver, closed, lambda: True)
    sub.start()
    await asyncio.wait_for(done.wait(), 60)
    assert got == list(range(1, 10_001))
    assert log.in_memory == 0, "replaying from the journal does not refill memory"
    journal.close()
