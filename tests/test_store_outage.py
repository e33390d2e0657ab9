"""PostgreSQL goes away for 10 s during a streaming turn: the outbox grows, then drains; nothing lost, nothing twice."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from sandbox_agent.client import SandboxAgent
from tests.pg_helpers import pg, store_url  # noqa: F401 - fixtures
from tests.test_store import all_events, wait_shipped, wait_store

pytestmark = pytest.mark.anyio

OUTAGE_SECONDS = 10


def stored(url: str, session_id: str) -> tuple[list[dict], int]:
    """The session's events in the store, and how many rows it has (to catch duplicates)."""
    with psycopg.connect(url) as conn:
        bodies = conn.execute(
            "SELECT body::text FROM events WHERE session_id = %s ORDER BY sequence", (session_id,)
        ).fetchall()
        count = conn.execute("SELECT count(*) FROM events WHERE session_id = %s", (session_id,)).fetchone()[0]
    import json

    return [json.loads(b[0]) for b in bodies], int(count)


async def _ticks(session, at_least: int) -> None:  # type: ignore[no-untyped-def]
    seen = 0
    async for e in session.events():
        if e.type == "item.delta" and e.data.delta.startswith("tick"):
            seen += 1
            if seen >= at_least:
                return


async def test_outage_during_a_streaming_turn(server_factory, tmp_path, pg, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    srv = server_factory(state_dir=tmp_path / "state", extra=["--store", store_url])
    client = await SandboxAgent.connect(srv.url, srv.token, reconnect=False)
    s = await client.create_session("mock", session_id="ses_outage")
    await s.send("slow 120")
    await asyncio.wait_for(_ticks(s, 10), 30)
    wait_shipped(srv)
    pg.stop()
    try:
        await asyncio.sleep(OUTAGE_SECONDS / 2)
        mid = wait_store(srv, lambda st: st["state"] == "down" and st["lag_rows"] > 10)
        await asyncio.sleep(OUTAGE_SECONDS / 2)
        late = wait_store(srv, lambda st: st["lag_rows"] > mid["lag_rows"])
        assert late["lag_seconds"] >= OUTAGE_SECONDS - 1, "the lag counts from the oldest unshipped event"
        # clients never wait on the store: the turn streams on meanwhile
        assert (await s.get()).status == "running"
    finally:
        pg.start()
    await asyncio.sleep(1)  # a little more streaming with the database back
    assert await s.interrupt()
    await asyncio.wait_for(_wait_idle(s), 60)
    wait_shipped(srv, timeout=30)
    local = await all_events(client, "ses_outage")
    events, count = stored(store_url, "ses_outage")
    assert events == local and count == len(local), "nothing lost, nothing twice"
    assert local[-1]["type"] == "turn.ended"
    await client.close()


async def _wait_idle(session) -> None:  # type: ignore[no-untyped-def]
    while (await session.get()).status == "running":  # noqa: ASYNC110 - polling the daemon
        await asyncio.sleep(0.2)


async def test_outage_and_a_kill_9_of_the_daemon(server_factory, tmp_path, pg, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    state = tmp_path / "state"
    srv = server_factory(state_dir=state, extra=["--store", store_url])
    client = await SandboxAgent.connect(srv.url, srv.token, reconnect=False)
    s = await client.create_session("mock", session_id="ses_kill")
    await s.prompt("everything")
    await s.send("slow 30")
    await asyncio.wait_for(_ticks(s, 5), 30)
    pg.stop()
    try:
        await asyncio.sleep(OUTAGE_SECONDS / 2)
        wait_store(srv, lambda st: st["state"] == "down" and st["lag_rows"] > 10)
        before_kill = await all_events(client, "ses_kill")
        await client.close()
        srv.kill9()
        await asyncio.sleep(OUTAGE_SECONDS / 2)
    finally:
        pg.start()
    srv2 = server_factory(state_dir=state, extra=["--store", store_url])
    wait_shipped(srv2, timeout=30)
    c2 = await SandboxAgent.connect(srv2.url, srv2.token, reconnect=False)
    local = await all_events(c2, "ses_kill")
    assert local[: len(before_kill)] == before_kill
    assert local[-1]["type"] == "session.ended"  # the restarted daemon ends what the dead one was running
    events, count = stored(store_url, "ses_kill")
    assert events == local and count == len(local), "nothing lost, nothing twice"
    await c2.close()
