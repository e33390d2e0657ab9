"""The PostgreSQL store against a real cluster: shipping, idempotency, the reader, the transcripts CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from sandbox_agent.client import SandboxAgent
from sandbox_agent.store import Store, StoreError
from sandbox_agent.store.schema import LATEST
from tests.pg_helpers import pg, store_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[1]


def wait_shipped(srv, timeout: float = 20.0) -> dict:  # type: ignore[no-untyped-def]
    """Until the daemon's store lag is 0 (and its journal has nothing newer)."""
    deadline = time.monotonic() + timeout
    health: dict = {}
    while time.monotonic() < deadline:
        health = httpx.get(srv.url + "/v1/health", timeout=5).json()
        store = health.get("store") or {}
        if store.get("state") == "ok" and store.get("lag_rows") == 0 and store.get("snapshots_pending") == 0:
            return health
        time.sleep(0.05)
    raise AssertionError(f"the store did not catch up: {health}")


def wait_store(srv, ok, timeout: float = 10.0) -> dict:  # type: ignore[no-untyped-def]
    """Until the health's store figures satisfy `ok`."""
    deadline = time.monotonic() + timeout
    while True:
        store = httpx.get(srv.url + "/v1/health", timeout=5).json()["store"]
        if ok(store):
            return store
        assert time.monotonic() < deadline, store
        time.sleep(0.05)


async def all_events(client: SandboxAgent, session_id: str) -> list[dict]:
    out: list[dict] = []
    while True:
        r = await client.call("sessions/events", {"session_id": session_id, "offset": len(out), "limit": 1000})
        out += r["events"]
        if not r["has_more"]:
            return out


async def test_daemon_ships_sessions_and_events(server_factory, tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    srv = server_factory(state_dir=tmp_path / "state", extra=["--store", store_url])
    client = await SandboxAgent.connect(srv.url, srv.token, reconnect=False)
    a = await client.create_session("mock", session_id="ses_a")
    await a.prompt("everything")
    await a.prompt("tool two")
    b = await client.create_session("mock", session_id="ses_b")
    await b.prompt("hello")
    health = wait_shipped(srv)
    assert set(health["store"]) == {"state", "lag_rows", "lag_seconds", "snapshots_pending"}, "no ids or error text"
    assert health["store"]["lag_seconds"] == 0

    with Store(store_url) as store:
        sessions = {s.session_id: s for s in store.sessions()}
        assert set(sessions) == {"ses_a", "ses_b"}
        for sid in ("ses_a", "ses_b"):
            local = await all_events(client, sid)
            assert store.events(sid, 0, 10_000) == local, "the store holds exactly what the daemon serves"
            assert sessions[sid].last_sequence == len(local)
            assert sessions[sid].agent == "mock" and sessions[sid].record["cwd"]
        daemon_ids = {s.daemon_id for s in sessions.values()}
        assert len(daemon_ids) == 1 and next(iter(daemon_ids)).startswith("dmn_")
        # offset and limit page like sessions/events
        page = store.events("ses_a", 3, 2)
        assert [e["sequence"] for e in page] == [4, 5]
        assert store.sessions(agent="claude") == []
        transcript = store.transcript("ses_a")
        assert [e["sequence"] for e in transcript.events] == list(range(1, sessions["ses_a"].last_sequence + 1))

    with psycopg.connect(store_url) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == LATEST
        rows = conn.execute("SELECT DISTINCT daemon_id, agent FROM events").fetchall()
        assert rows == [(next(iter(daemon_ids)), "mock")]
    await client.close()


async def test_reshipping_is_idempotent(server_factory, tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    state = tmp_path / "state"
    srv = server_factory(state_dir=state, extra=["--store", store_url])
    client = await SandboxAgent.connect(srv.url, srv.token, reconnect=False)
    s = await client.create_session("mock", session_id="ses_idem")
    await s.prompt("command ls")
    wait_shipped(srv)
    await client.close()
    srv.stop()
    # the watermark is lost: the restarted daemon ships the whole journal again
    (state / "store-outbox.json").unlink()
    srv2 = server_factory(state_dir=state, extra=["--store", store_url])
    wait_shipped(srv2)
    c2 = await SandboxAgent.connect(srv2.url, srv2.token, reconnect=False)
    s2 = c2.session("ses_idem")
    await s2.prompt("hello again")  # auto-resumes the ended session
    wait_shipped(srv2)
    local = await all_events(c2, "ses_idem")
    with psycopg.connect(store_url) as conn:
        count, distinct, top = conn.execute(
            "SELECT count(*), count(DISTINCT sequence), max(sequence) FROM events WHERE session_id = 'ses_idem'"
        ).fetchone()
    assert count == distinct == top == len(local)
    await c2.close()


def test_client_side_recording_is_idempotent(store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    record = {"session_id": "ses_rec", "agent": "mock", "cwd": "/w", "created_at": "2026-11-30T10:00:00.000Z"}
    events = [
        {"event_id": f"e{i}", "sequence": i, "time": "2026-11-30T10:00:01.000Z", "session_id": "ses_rec",
         "source": "daemon", "type": "turn.started", "data": {"turn_id": f"t{i}"}}
        for i in range(1, 6)
    ]
    with Store(store_url) as store:
        assert store.record("client:test", record, events[:3]) == 3
        assert store.record("client:test", record, events) == 2, "rows already stored are kept, not doubled"
        assert [e["sequence"] for e in store.events("ses_rec")] == [1, 2, 3, 4, 5]
        assert store.session("ses_rec").daemon_id == "client:test"
        assert store.session("nope") is None


def test_reader_errors_are_clear(pg, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    empty = pg.new_database()
    with pytest.raises(StoreError, match="no sandbox-agent store"):
        Store(empty).sessions()
    with pytest.raises(StoreError, match="cannot connect"):
        Store(pg.url_for("postgres").replace(str(pg.port), "1"), connect_timeout=2).sessions()
    done = subprocess.run(
        [sys.executable, "-m", "sandbox_agent", "transcripts", "list"],
        capture_output=True, text=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1 and "give --store" in done.stderr


async def test_transcripts_cli(server_factory, tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    srv = server_factory(state_dir=tmp_path / "state", extra=["--store", store_url])
    client = await SandboxAgent.connect(srv.url, srv.token, reconnect=False)
    s = await client.create_session("mock", session_id="ses_cli")
    await s.prompt("everything")
    wait_shipped(srv)
    local = await all_events(client, "ses_cli")
    await client.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sandbox_agent", "transcripts", *args, "--store", store_url],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
        )

    listed = cli("list")
    assert listed.returncode == 0 and "ses_cli" in listed.stdout and "mock" in listed.stdout
    rows = [json.loads(line) for line in cli("list", "--json").stdout.splitlines()]
    assert rows[0]["session_id"] == "ses_cli" and rows[0]["last_sequence"] == len(local)

    shown = cli("show", "ses_cli")
    assert shown.returncode == 0
    md = shown.stdout
    assert md.startswith("# Session ses_cli") and "## Turn 1" in md and "**User:**" in md and "everything" in md
    assert "**Assistant:**" in md and "tool call `search" in md and "```console" in md and "```diff" in md

    out = tmp_path / "t.jsonl"
    assert cli("export", "ses_cli", "--format", "jsonl", "--out", str(out)).returncode == 0
    assert [json.loads(line) for line in out.read_text().splitlines()] == local

    folder = tmp_path / "all"
    done = cli("export", "--all", "--format", "markdown", "--out", str(folder))
    assert done.returncode == 0 and (folder / "ses_cli.md").read_text() == md

    missing = cli("show", "ses_nope")
    assert missing.returncode == 1 and "no session 'ses_nope'" in missing.stderr


async def test_store_down_at_start_daemon_serves_and_catches_up(server_factory, tmp_path, pg) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """A store that does not exist yet (wrong database name): the daemon serves, health says down, no crash."""
    url = pg.url_for("not_created_yet")
    srv = server_factory(state_dir=tmp_path / "state", extra=["--store", url])
    client = await SandboxAgent.connect(srv.url, srv.token, reconnect=False)
    s = await client.create_session("mock", session_id="ses_down")
    await s.prompt("hello")
    wait_store(srv, lambda st: st["state"] == "down" and st["lag_rows"] > 0)
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "not_created_yet"')
    wait_shipped(srv, timeout=30)
    with Store(url) as st:
        assert st.session("ses_down").last_sequence == len(await all_events(client, "ses_down"))
    await client.close()


async def test_sdk_records_what_it_streams(server, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """A daemon without --store; the client writes what it sees into the store, and a second stream adds nothing."""
    import contextlib

    client = await SandboxAgent.connect(server.url, server.token, reconnect=False)
    s = await client.create_session("mock", session_id="ses_sdk")
    await s.prompt("everything")
    await s.prompt("tool two")
    await s.terminate()
    store = Store(store_url)
    seen = [e.model_dump(mode="json", exclude_none=True, by_alias=True) async for e in s.events(record=store)]
    local = await all_events(client, "ses_sdk")
    assert seen == local and local[-1]["type"] == "session.ended"
    assert store.events("ses_sdk", 0, 10_000) == local
    stored = store.session("ses_sdk")
    assert stored.agent == "mock" and stored.ended and stored.daemon_id.startswith("client_")
    assert stored.record["ended"]["reason"] == "terminated"
    # streaming again (from an offset, closed early) writes nothing twice
    async with contextlib.aclosing(s.events(offset=2, record=store)) as again:
        async for _ in again:
            break
    with psycopg.connect(store_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == len(local)
    store.close()
    await client.close()


def test_recipes_pass_the_store_in_the_environment() -> None:
    import shlex

    from sandbox_agent.deploy.cli_args import recipe_parser
    from sandbox_agent.deploy.launch import start_command

    url = "postgresql://fleet:s3cret@db.internal:5432/transcripts"
    words = shlex.split(start_command("tok", "standalone", store=url))
    assert f"SANDBOX_AGENT_STORE={url}" in words
    assert "--store" not in words and not any(w == url for w in words), "the URL is not an argument"
    assert "SANDBOX_AGENT_STORE" not in start_command("tok", "zipapp")
    assert recipe_parser("x").parse_args(["--store", url]).store == url


def test_stdio_passes_the_store_to_the_daemon_it_starts(tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """`sandbox-agent stdio --store URL` starts the shared daemon with it (through its environment, not argv)."""
    import os

    state = tmp_path / "state"
    calls = [
        {"jsonrpc": "2.0", "id": 1, "method": "sessions/create", "params": {"agent": "mock", "session_id": "ses_io"}},
        {"jsonrpc": "2.0", "id": 2, "method": "sessions/prompt", "params": {"session_id": "ses_io", "message": "hi"}},
    ]
    env = {k: v for k, v in os.environ.items() if k != "SANDBOX_AGENT_STORE"}
    done = subprocess.run(
        [sys.executable, "-m", "sandbox_agent", "stdio", "--state-dir", str(state), "--store", store_url,
         "--idle-exit", "2"],
        input="\n".join(json.dumps(c) for c in calls) + "\n", capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=60,
    )
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r.get("result", {}).get("stop_reason") for r in replies if r["id"] == 2] == ["end_turn"]
    from sandbox_agent.statedir import read_pid_file

    pid = (read_pid_file(state) or {})["pid"]  # the shared daemon outlives this client for --idle-exit seconds
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    assert "daemon" in cmdline and store_url not in cmdline, "the URL (and its password) stays out of ps"
    deadline = time.monotonic() + 20
    while True:
        with Store(store_url) as store:
            found = store.session("ses_io") if any(s.session_id == "ses_io" for s in _safe_sessions(store)) else None
        if found is not None and found.last_sequence >= 5:
            break
        assert time.monotonic() < deadline, "the daemon started by stdio ships to the store"
        time.sleep(0.2)


def _safe_sessions(store: Store) -> list:
    try:
        return store.sessions()
    except StoreError:
        return []  # the daemon has not created the schema yet
