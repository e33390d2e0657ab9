"""A replacement sandbox: daemon A dies with its state dir, daemon B (new state dir, same store) finds the session
and continues it — natively from a snapshot of the agent's state, or primed with a replay when there is none."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import psycopg
import pytest

from sandbox_agent.client import SandboxAgent
from sandbox_agent.store import Store
from tests.pg_helpers import pg, store_url  # noqa: F401 - fixtures
from tests.test_store import all_events, wait_shipped

pytestmark = pytest.mark.anyio


async def _two_turns_then_lose_the_sandbox(server_factory, tmp_path, store_url) -> list[dict]:  # type: ignore[no-untyped-def]  # noqa: F811
    state_a = tmp_path / "state_a"
    srv_a = server_factory(state_dir=state_a, extra=["--store", store_url])
    client = await SandboxAgent.connect(srv_a.url, srv_a.token, reconnect=False)
    s = await client.create_session("mock", session_id="ses_moved")
    await s.prompt("remember the word pelican")
    await s.prompt("tool lighthouse")
    wait_shipped(srv_a)
    before = await all_events(client, "ses_moved")
    await client.close()
    srv_a.kill9()
    lose_state_dir(state_a)
    return before


def lose_state_dir(state: Path) -> None:
    """Delete a killed daemon's state dir (its shipper process may still be closing its journal files)."""
    for _ in range(100):
        shutil.rmtree(state, ignore_errors=True)
        if not state.exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"{state} could not be deleted")


def _snapshot_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM snapshots WHERE session_id = 'ses_moved'").fetchone()[0])


async def _started(client: SandboxAgent, after: int) -> dict:
    from tests.test_store_agents import first_after

    return await first_after(client, "ses_moved", after, "session.started")


async def test_native_restore_from_a_snapshot(server_factory, tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    before = await _two_turns_then_lose_the_sandbox(server_factory, tmp_path, store_url)
    assert _snapshot_count(store_url) == 1, "the mock's native history was snapshotted after its turns"
    with Store(store_url) as store:
        daemon_a = store.session("ses_moved").daemon_id

    srv_b = server_factory(state_dir=tmp_path / "state_b", extra=["--store", store_url])
    client = await SandboxAgent.connect(srv_b.url, srv_b.token, reconnect=False)
    listed = {s.session_id: s for s in await client.list_sessions()}
    assert listed["ses_moved"].status == "ended" and listed["ses_moved"].event_count == len(before)
    events = await all_events(client, "ses_moved")
    assert events[: len(before)] == before, "every event of daemon A, in order"
    assert events[-1]["type"] == "session.ended" and events[-1]["data"]["terminated_by"] == "daemon"

    session = await client.resume_session("ses_moved")
    started = await _started(client, len(before))
    assert started["data"]["resumed"] is True and started["data"]["restored"] is True
    result = await session.prompt("history")
    assert "remember the word pelican" in result.text and "tool lighthouse" in result.text, result.text
    after = await all_events(client, "ses_moved")
    assert [e["sequence"] for e in after] == list(range(1, len(after) + 1)), "same session, next sequences"
    wait_shipped(srv_b)
    with Store(store_url) as store:
        assert store.events("ses_moved", 0, 10_000) == after
        assert store.session("ses_moved").daemon_id != daemon_a, "B now writes the session"
    await client.close()


async def test_replay_restore_without_a_snapshot(server_factory, tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    before = await _two_turns_then_lose_the_sandbox(server_factory, tmp_path, store_url)
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("DELETE FROM snapshots")

    srv_b = server_factory(state_dir=tmp_path / "state_b", extra=["--store", store_url])
    client = await SandboxAgent.connect(srv_b.url, srv_b.token, reconnect=False)
    # sessions/get imports it; then it is an ordinary ended session of B
    info = await client.get_session("ses_moved")
    assert info.status == "ended" and info.event_count == len(before) + 1
    await client.call("sessions/resume", {"session_id": "ses_moved", "replay": {"max_chars": 20_000}})
    started = await _started(client, len(before))
    assert started["data"]["resumed"] is True and started["data"]["restored"] is False
    assert started["data"]["metadata"]["restore"] == "replay"
    result = await client.session("ses_moved").prompt("what did we talk about?")
    # the mock echoes what it was sent: the replay came first, then the new message
    assert "<transcript>" in result.text and "remember the word pelican" in result.text
    assert "<tool_call>search" in result.text and "3 results for" in result.text
    assert result.text.rstrip().endswith("what did we talk about?")
    history = await client.session("ses_moved").prompt("history")
    assert "pelican" in history.text, "the fresh native session now holds the replayed history"
    await client.close()


async def test_unknown_session_is_still_not_found(server_factory, tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    srv = server_factory(state_dir=tmp_path / "state", extra=["--store", store_url])
    reply = srv.rpc("sessions/get", {"session_id": "ses_nowhere"})
    assert reply["error"]["data"]["kind"] == "session_not_found"


async def test_subscribe_imports_and_the_store_restarting_is_survived(server_factory, tmp_path, pg, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    import contextlib

    before = await _two_turns_then_lose_the_sandbox(server_factory, tmp_path, store_url)
    srv_b = server_factory(state_dir=tmp_path / "state_b", extra=["--store", store_url])
    client = await SandboxAgent.connect(srv_b.url, srv_b.token, reconnect=False)
    assert {s.session_id for s in await client.list_sessions()} == {"ses_moved"}
    pg.stop()  # the daemon's store connection breaks under it
    pg.start()
    seen = []
    async with contextlib.aclosing(client.session("ses_moved").events()) as events:
        async for e in events:  # sessions/subscribe of a session only the store has
            seen.append(e.model_dump(mode="json", exclude_none=True, by_alias=True))
    assert seen[: len(before)] == before and seen[-1]["type"] == "session.ended"
    await client.close()


def test_replay_keeps_the_newest_turns_whole_within_its_caps() -> None:
    from sandbox_agent.schema.store import ReplayCaps
    from sandbox_agent.store.replay import build_replay

    def turn(n: int, seq: int) -> list[dict]:
        item = {"item_id": f"u{n}", "kind": "message", "role": "user", "status": "completed",
                "content": [{"type": "text", "text": f"question {n} " + "x" * 900}]}
        cmd = {"item_id": f"c{n}", "kind": "command", "status": "completed",
               "content": [{"type": "command", "command": f"make {n}", "exit_code": n % 2, "output": "o" * 5000}]}
        return [
            {"type": "turn.started", "sequence": seq, "data": {"turn_id": f"t{n}"}},
            {"type": "item.completed", "sequence": seq + 1, "data": {"item": item}},
            {"type": "item.completed", "sequence": seq + 2, "data": {"item": cmd}},
            {"type": "turn.ended", "sequence": seq + 3, "data": {"turn_id": f"t{n}", "stop_reason": "end_turn"}},
        ]

    events = [e for n in range(1, 41) for e in turn(n, n * 4)]
    text = build_replay(events, ReplayCaps(max_chars=20_000, detail_chars=300))
    assert len(text) <= 20_000
    assert "question 40" in text and "question 1 " not in text, "the newest turns are kept, the oldest left out"
    assert "earlier turn(s) left out" in text and "$ make 39  (exit 1)" in text and "more characters]" in text
    newest = text[text.index('<turn n="40">'):]
    assert "question 40 " + "x" * 900 in newest, "a kept turn is whole (its user message uncut)"
    only_two = build_replay(events, ReplayCaps(max_turns=2))
    assert only_two.count("<turn ") == 2 and "38 earlier turn(s) left out" in only_two
    assert build_replay([]) == ""


def test_snapshot_bytes_change_only_with_the_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The snapshotter stores a snapshot again only when its digest changed: the archive of unchanged files must be
    byte for byte the same (the gzip header's timestamp once made every archive differ), and it only unpacks
    inside the agents folder."""
    import gzip
    import io
    import os
    import tarfile
    import time

    from sandbox_agent.store.snapshots import collect, extract

    agents = tmp_path / "agents"
    thread = agents / "ses_one" / "amp" / "home" / ".local/share/amp/threads" / "T-0123456789.json"
    thread.parent.mkdir(parents=True)
    thread.write_text('{"id": "T-0123456789", "messages": []}')
    (agents / "ses_one" / "amp" / "settings.json").write_text("{}")  # not named by the native id: left out
    first = collect(agents, "ses_one", "T-0123456789", "amp")
    time.sleep(1.1)  # gzip stamps whole seconds
    assert first is not None and collect(agents, "ses_one", "T-0123456789", "amp") == first
    thread.write_text('{"id": "T-0123456789", "messages": [1]}')
    os.utime(thread, (time.time() + 5, time.time() + 5))
    assert collect(agents, "ses_one", "T-0123456789", "amp") != first

    elsewhere = tmp_path / "b" / "agents"
    assert extract(elsewhere, first) == 1
    assert (elsewhere / thread.relative_to(agents)).read_text() == '{"id": "T-0123456789", "messages": []}'
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        evil = tarfile.TarInfo("../../escaped.txt")
        evil.size = 1
        tar.addfile(evil, io.BytesIO(b"x"))
    with pytest.raises(tarfile.OutsideDestinationError):
        extract(elsewhere, buf.getvalue())
    assert not (tmp_path / "escaped.txt").exists()
