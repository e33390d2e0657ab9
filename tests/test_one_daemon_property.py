"""Random interleavings of clients, prompts, kill -9 of daemons and clients, and refused second daemons on one
state dir: every journal keeps its invariants and holds every event any client saw."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox_agent.client import RpcError, SandboxAgent
from sandbox_agent.rpc.connection import ConnectionClosed
from sandbox_agent.statedir import read_pid_file

from .conftest import ROOT

CLI = [sys.executable, "-m", "sandbox_agent"]
SESSIONS = 2

op = st.one_of(
    st.tuples(st.just("client")),
    st.tuples(st.just("prompt"), st.integers(0, 3), st.integers(0, SESSIONS - 1), st.sampled_from(["tool", "hi"])),
    st.tuples(st.just("send_slow"), st.integers(0, 3), st.integers(0, SESSIONS - 1)),
    st.tuples(st.just("kill_daemon")),
    st.tuples(st.just("drop_client"), st.integers(0, 3)),
    st.tuples(st.just("embedded")),
)


def check_journal(state: Path, seen: dict[tuple[str, int], str]) -> None:
    db = sqlite3.connect(state / "journal.sqlite3")
    try:
        rows = db.execute("SELECT session_id, seq, body FROM events ORDER BY session_id, seq").fetchall()
    finally:
        db.close()
    by_session: dict[str, list[dict[str, Any]]] = {}
    for sid, seq, body in rows:
        event = json.loads(body)
        assert event["sequence"] == seq
        by_session.setdefault(sid, []).append(event)
    for sid, events in by_session.items():
        seqs = [e["sequence"] for e in events]
        assert seqs == list(range(1, len(seqs) + 1)), f"{sid}: gaps {seqs}"
        assert events[0]["type"] == "session.started", sid
        for before, after in itertools.pairwise(events):
            if before["type"] == "session.ended":
                assert after["type"] == "session.started", f"{sid}: {after['type']} after session.ended"
    journal = {(e["session_id"], e["sequence"]): e["event_id"] for evs in by_session.values() for e in evs}
    for key, event_id in seen.items():
        assert journal.get(key) == event_id, f"an event a client saw is missing or different: {key}"


async def run_ops(state: Path, ops: list[tuple[Any, ...]]) -> None:
    clients: list[SandboxAgent] = []
    seen: dict[tuple[str, int], str] = {}
    created: set[str] = set()

    async def new_client() -> SandboxAgent:
        c = await SandboxAgent.start(state_dir=state, idle_exit=30)
        clients.append(c)
        return c

    async def record(c: SandboxAgent, sid: str) -> None:
        offset = 0
        while True:
            events, offset, more = await c.read_events(sid, offset, 1000)
            for e in events:
                seen[(sid, e.sequence)] = e.event_id
            if not more:
                return

    await new_client()
    for step in ops:
        kind = step[0]
        try:
            if kind == "client":
                await new_client()
            elif kind in ("prompt", "send_slow"):
                c = clients[step[1] % len(clients)]
                sid = f"s{step[2]}"
                if sid not in created:
                    await c.create_session("mock", session_id=sid)
                    created.add(sid)
                if kind == "prompt":
                    await c.session(sid).prompt(f"{step[3]} {len(seen)}", timeout=30)
                else:
                    await c.session(sid).send("slow 1")
                await record(c, sid)
            elif kind == "kill_daemon":
                info = read_pid_file(state)
                if info:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(info["pid"]), signal.SIGKILL)
                    await asyncio.sleep(0.2)
            elif kind == "drop_client" and len(clients) > 1:
                c = clients.pop(step[1] % len(clients))
                assert c._transport is not None
                await c._transport.close()  # gone without a goodbye
            elif kind == "embedded":
                done = await asyncio.to_thread(
                    subprocess.run,
                    [*CLI, "stdio", "--embedded", "--state-dir", str(state)],
                    input=b"",
                    capture_output=True,
                    cwd=ROOT,
                    timeout=60,
                )
                # refused while a daemon owns the dir; otherwise it ran as the owner and exited cleanly
                assert done.returncode == 0 or b"is owned by a running daemon" in done.stderr, done.stderr
        except RpcError as exc:
            assert exc.kind in ("session_busy", "session_ended", "connection_closed"), exc
        except ConnectionClosed:
            pass
    for c in clients:
        with contextlib.suppress(Exception):
            for sid in created:
                await record(c, sid)
            break
    for c in clients:
        await c.close()
    await asyncio.to_thread(
        subprocess.run, [*CLI, "daemon", "stop", "--state-dir", str(state)], capture_output=True, timeout=60
    )
    check_journal(state, seen)


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=3, max_size=8))
def test_random_interleavings_keep_every_journal_whole(tmp_path_factory: pytest.TempPathFactory, ops: list) -> None:  # type: ignore[type-arg]
    state = tmp_path_factory.mktemp("prop") / "state"
    asyncio.run(run_ops(state, ops))
