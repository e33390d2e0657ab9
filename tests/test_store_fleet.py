"""A fleet: five daemons with their own state dirs write into one database at once; every session is complete."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from sandbox_agent.client import SandboxAgent
from sandbox_agent.store import Store
from tests.pg_helpers import pg, store_url  # noqa: F401 - fixtures
from tests.test_store import all_events, wait_shipped

pytestmark = pytest.mark.anyio

DAEMONS = 5
SESSIONS = 3
PROMPTS = ["everything", "tool a", "command ls", "file x", "hello"]


async def test_five_daemons_one_database(server_factory, tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    servers = [
        server_factory(state_dir=tmp_path / f"state{n}", extra=["--store", store_url]) for n in range(DAEMONS)
    ]
    clients = [await SandboxAgent.connect(s.url, s.token, reconnect=False) for s in servers]

    async def drive(n: int, k: int) -> None:
        session = await clients[n].create_session("mock", session_id=f"ses_d{n}_s{k}")
        for prompt in PROMPTS:
            await session.prompt(prompt)

    await asyncio.gather(*(drive(n, k) for n in range(DAEMONS) for k in range(SESSIONS)))
    for srv in servers:
        wait_shipped(srv, timeout=60)

    with Store(store_url) as store:
        sessions = {s.session_id: s for s in store.sessions()}
        assert len(sessions) == DAEMONS * SESSIONS
        daemon_of: dict[int, set[str]] = {}
        for n in range(DAEMONS):
            for k in range(SESSIONS):
                sid = f"ses_d{n}_s{k}"
                local = await all_events(clients[n], sid)
                assert store.events(sid, 0, 100_000) == local, f"{sid} is complete and in order"
                assert sum(1 for e in local if e["type"] == "turn.ended") == len(PROMPTS)
                daemon_of.setdefault(n, set()).add(sessions[sid].daemon_id)
        # each daemon names itself on its rows, and no two daemons share a name
        assert all(len(ids) == 1 for ids in daemon_of.values())
        assert len(set().union(*daemon_of.values())) == DAEMONS
    with psycopg.connect(store_url) as conn:
        by_daemon = conn.execute("SELECT daemon_id, count(DISTINCT session_id) FROM events GROUP BY 1").fetchall()
    assert sorted(c for _, c in by_daemon) == [SESSIONS] * DAEMONS
    for c in clients:
        await c.close()
