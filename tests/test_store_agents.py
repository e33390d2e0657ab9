"""Each real agent moves to a replacement sandbox: two turns in daemon A, kill -9 of A and its state dir deleted,
daemon B (new state dir, same store) lists the session with every event, resumes it, and the fake model's third
request holds turns 1-2 — natively, from a snapshot of the agent's own state (Claude's project JSONL, Codex's
rollout, OpenCode's session in `opencode export` format, Amp's thread file), or primed by a replay when the snapshot
cannot be loaded."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sandbox_agent.client import SandboxAgent
from sandbox_agent.install import Installer
from sandbox_agent.store import Store
from sandbox_agent.store.native_opencode import export_session
from sandbox_agent.store.replay import HEADER as REPLAY_HEADER
from sandbox_agent.testing import FakeLLM
from tests.pg_helpers import pg, store_url  # noqa: F401 - fixtures
from tests.test_store import all_events, wait_shipped
from tests.test_store_restore import lose_state_dir

pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]


def _env(agent: str, fake: FakeLLM) -> dict[str, str]:
    if agent == "claude":
        return {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-test"}
    if agent == "amp":
        return {"AMP_URL": fake.url, "AMP_API_KEY": "sk-fake-test"}
    return {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake-test"}


async def first_after(client: SandboxAgent, session_id: str, offset: int, type_: str) -> dict:
    """The first event of a type after `offset`, waiting for it to be committed (resume returns before that)."""
    for _ in range(200):
        found = [e for e in (await all_events(client, session_id))[offset:] if e["type"] == type_]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {type_} after sequence {offset}")


def snapshot_members(url: str, session_id: str) -> dict[str, bytes]:
    with Store(url) as store:
        snap = store.snapshot(session_id)
    assert snap is not None, f"no snapshot of {session_id}"
    with tarfile.open(fileobj=io.BytesIO(snap["data"]), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def opencode_cli_export(agents_dir: Path, native_id: str) -> dict[str, Any]:
    """`opencode export <id>` run by the real binary against the home of daemon A's OpenCode server."""
    installed = Installer().installed("opencode")
    assert installed is not None
    (home,) = [p / "home" for p in agents_dir.glob(".opencode-*")]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
    }
    done = subprocess.run([*installed.command, "export", native_id], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-1000:]
    return json.loads(done.stdout)


def spoil_snapshot(url: str, session_id: str) -> None:
    """A snapshot the agent cannot load: every file cut in half."""
    members = snapshot_members(url, session_id)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data) // 2
            tar.addfile(info, io.BytesIO(data[: info.size]))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE snapshots SET data = %s WHERE session_id = %s", (buf.getvalue(), session_id))


TOOL_STEP: dict[str, list[dict[str, Any]]] = {
    "opencode": [{"tool": "bash", "input": {"command": "echo papaya-$((40+2))", "description": "echo"}}],
    "amp": [{"tool": "Bash", "input": {"cmd": "echo papaya-$((40+2))"}}],
}


async def move_to_a_new_sandbox(
    agent: str,
    server_factory: Any,
    tmp_path: Path,
    url: str,
    before_loss: Callable[[Path, str], None] | None = None,
    tamper: Callable[[str, str], None] | None = None,
    warm_b: bool = False,
) -> tuple[str, str, FakeLLM]:
    """Two turns in A, A lost, resumed in B with a third message: (restore path, third request text, fake).
    warm_b: B runs a session of the same agent (and so OpenCode's shared server) before the resume."""
    await asyncio.to_thread(lambda: asyncio.run(Installer().install(agent)))
    work = tmp_path / "work"
    work.mkdir()
    state_a = tmp_path / "state_a"
    options: dict[str, Any] = {"cwd": str(work), "permission_mode": "bypass"}
    if agent in ("codex", "opencode"):
        options["model"] = "fake-model"
    sid = f"ses_move_{agent}"
    # turn 2 runs a command where the test drives it with one: its output must be in the restored history too
    script: list[dict[str, Any]] = [{"text": "noted kiwi"}, *TOOL_STEP.get(agent, []), {"text": "noted mango"}]
    script += [{"text": "warm"}] if warm_b else []
    async with FakeLLM([*script, {"echo": True}]) as fake:
        env = _env(agent, fake)
        srv_a = server_factory(state_dir=state_a, extra=["--store", url])
        client = await SandboxAgent.connect(srv_a.url, srv_a.token, reconnect=False)
        s = await client.create_session(agent, session_id=sid, env=env, **options)
        assert (await s.prompt("please remember the word kiwi", timeout=120)).text == "noted kiwi"
        assert (await s.prompt("and also the word mango", timeout=120)).text == "noted mango"
        native_id = (await client.get_session(sid)).native_session_id
        wait_shipped(srv_a, timeout=30)
        before = await all_events(client, sid)
        await client.close()
        if before_loss is not None:
            before_loss(state_a / "agents", native_id)
        srv_a.kill9()
        lose_state_dir(state_a)
        if tamper is not None:
            tamper(url, sid)

        srv_b = server_factory(state_dir=tmp_path / "state_b", extra=["--store", url])
        c2 = await SandboxAgent.connect(srv_b.url, srv_b.token, reconnect=False)
        listed = {x.session_id: x for x in await c2.list_sessions()}
        assert listed[sid].status == "ended" and listed[sid].event_count == len(before)
        events = await all_events(c2, sid)
        assert events[: len(before)] == before, "daemon B serves every event of daemon A"
        if warm_b:
            other = await c2.create_session(agent, session_id=f"ses_warm_{agent}", env=env, **options)
            assert (await other.prompt("hello", timeout=120)).text == "warm"

        await c2.resume_session(sid, env=env)
        started = await first_after(c2, sid, len(before), "session.started")
        how = started["data"]["metadata"]["restore"]
        print(f"{agent}: restored by {how}")
        assert started["data"]["resumed"] is True and started["data"]["restored"] is (how == "native")
        third = await c2.session(sid).prompt("which words did I ask you to remember?", timeout=120)
        assert third.stop_reason == "end_turn"
        request = str(fake.main_requests()[-1]["body"])
        assert "kiwi" in request and "mango" in request, f"{agent} ({how}): the model saw turns 1-2"
        assert (REPLAY_HEADER in request) is (how == "replay"), "native: the history is the agent's own, no replay"
        if agent in TOOL_STEP:
            assert "papaya-42" in request, f"{agent} ({how}): turn 2's command output is in the history"
        if how == "native":
            assert (await c2.get_session(sid)).native_session_id == native_id, "the same native session continues"
        after = await all_events(c2, sid)
        assert [e["sequence"] for e in after] == list(range(1, len(after) + 1))
        await c2.close()
    return how, request, fake


@pytest.mark.parametrize("agent", ["claude", "codex", "opencode", "amp"])
async def test_agent_continues_natively_in_a_new_sandbox(agent: str, server_factory, tmp_path: Path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    seen: dict[str, Any] = {}

    def check_snapshot(agents_dir: Path, native_id: str) -> None:
        members = snapshot_members(store_url, f"ses_move_{agent}")
        assert members and all(native_id in name for name in members), members.keys()
        if agent == "amp":
            assert f"ses_move_amp/amp/home/.local/share/amp/threads/{native_id}.json" in members
        if agent == "opencode":
            # the snapshot holds what `opencode export` prints, read from opencode.db without running it
            (name,) = members
            assert name == f"ses_move_opencode/opencode-export/{native_id}.json"
            assert json.loads(members[name]) == opencode_cli_export(agents_dir, native_id)
            assert json.loads(export_session(agents_dir, native_id) or b"") == json.loads(members[name])
        seen["checked"] = True

    # OpenCode: B's shared server for this endpoint already runs when the session is imported into its database
    how, _, _ = await move_to_a_new_sandbox(
        agent, server_factory, tmp_path, store_url, before_loss=check_snapshot, warm_b=agent == "opencode"
    )
    assert seen["checked"] and how == "native"


@pytest.mark.parametrize("agent", ["opencode", "amp"])
async def test_unloadable_snapshot_is_replayed(agent: str, server_factory, tmp_path: Path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    how, request, _ = await move_to_a_new_sandbox(agent, server_factory, tmp_path, store_url, tamper=spoil_snapshot)
    assert how == "replay", f"{agent} cannot load the broken snapshot: the session continues from a replay"
    assert "please remember the word kiwi" in request and "noted mango" in request
