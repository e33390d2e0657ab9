"""The generic ACP adapter against a scripted ACP agent (a real process on the official library's agent side):
client-side fs and terminals confined to the cwd, plans/thoughts/diffs/usage, permissions, cancel, load, and an
agent that crashes or breaks the protocol mid-turn."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox_agent.client import SandboxAgent, Session

from .agent_helpers import completed, ended, until

pytestmark = pytest.mark.anyio

FAKE_AGENT = Path(__file__).parent / "fixtures" / "acp" / "fake_agent.py"


@pytest.fixture
async def client() -> AsyncIterator[SandboxAgent]:
    agents = {"fake-acp": {"name": "Fake ACP agent", "command": [sys.executable, str(FAKE_AGENT)]}}
    env = {**os.environ, "SANDBOX_AGENT_ACP_AGENTS": json.dumps(agents)}
    async with await SandboxAgent.start(ephemeral=True, env=env) as c:
        yield c


async def open_session(client: SandboxAgent, work: Path) -> Session:
    work.mkdir(exist_ok=True)
    return await client.create_session("fake-acp", cwd=str(work))


async def test_agent_from_the_environment_is_listed(client: SandboxAgent) -> None:
    agents = {a.id: a for a in await client.list_agents()}
    assert agents["fake-acp"].installed and agents["fake-acp"].capabilities.resume == "partial"
    assert agents["gemini"].capabilities.permissions == "yes" and agents["pi"].capabilities.resume == "yes"


async def test_text_turn_with_usage(client: SandboxAgent, tmp_path: Path) -> None:
    s = await open_session(client, tmp_path / "w")
    r = await s.prompt("hello there", timeout=30)
    assert r.text == "echo: hello there (turn 1)" and r.stop_reason == "end_turn"
    events = await until(s, 0, ended(r.turn_id))
    assert events[-1].data.usage.input_tokens == 5 and events[-1].data.usage.output_tokens == 3
    assert (await s.get()).native_session_id


async def test_fs_requests_stay_inside_the_cwd(client: SandboxAgent, tmp_path: Path) -> None:
    work = tmp_path / "w"
    s = await open_session(client, work)
    r = await s.prompt("fs notes.txt", timeout=30)
    assert (work / "notes.txt").read_text() == "one\ntwo\n"
    assert r.text == "read back 'two\\n'; outside refused -32602"


async def test_terminal_requests_run_in_the_cwd(client: SandboxAgent, tmp_path: Path) -> None:
    s = await open_session(client, tmp_path / "w")
    r = await s.prompt("terminal", timeout=30)
    assert r.text == "terminal said 'from terminal' exit 0"
    events = await until(s, 0, ended(r.turn_id))
    command = completed(events, "command")[0]
    assert command.content[0].output.strip() == "from terminal" and command.content[0].exit_code == 0


async def test_plan_thought_and_diff(client: SandboxAgent, tmp_path: Path) -> None:
    s = await open_session(client, tmp_path / "w")
    r = await s.prompt("plan", timeout=30)
    events = await until(s, 0, ended(r.turn_id))
    assert completed(events, "reasoning")[0].content[0].text == "thinking it over"
    plan = completed(events, "status")[0]
    assert plan.content[0].label == "plan" and "[completed] read the file" in plan.content[0].detail
    change = completed(events, "file_change")[0]
    assert change.content[0].path == "/w/a.txt" and change.content[0].action == "patch"
    assert "-old" in change.content[0].diff and "+new" in change.content[0].diff
    assert not [e for e in events if e.type == "agent.unparsed"]


@pytest.mark.parametrize("reply", ["once", "always", "reject"])
async def test_permission_round_trip(client: SandboxAgent, tmp_path: Path, reply: str) -> None:
    s = await open_session(client, tmp_path / "w")
    turn = await s.send("ask")
    req = (await until(s, 0, lambda e: e.type == "permission.requested"))[-1]
    assert req.data.action == "rm -rf build" and req.data.metadata["input"] == {"command": "rm"}
    await s.reply_permission(req.data.permission_id, reply)
    events = await until(s, req.sequence, ended(turn))
    text = [p.text for i in completed(events, "message") for p in i.content]
    assert text == [{"once": "permission: yes", "always": "permission: always", "reject": "permission: no"}[reply]]
    assert completed(events, "command")[0].status == ("failed" if reply == "reject" else "completed")


async def test_interrupt_cancels_and_the_session_goes_on(client: SandboxAgent, tmp_path: Path) -> None:
    s = await open_session(client, tmp_path / "w")
    turn = await s.send("slow")
    await until(s, 0, lambda e: e.type == "item.delta")
    await s.interrupt()
    events = await until(s, 0, ended(turn))
    assert events[-1].data.stop_reason == "interrupted"
    assert completed(events, "message")[-1].status == "completed"
    r = await s.prompt("next", timeout=30)
    assert r.text == "echo: next (turn 2)"


async def test_interrupt_releases_a_pending_permission(client: SandboxAgent, tmp_path: Path) -> None:
    s = await open_session(client, tmp_path / "w")
    turn = await s.send("ask")
    await until(s, 0, lambda e: e.type == "permission.requested")
    await s.interrupt()
    events = await until(s, 0, ended(turn))
    assert events[-1].data.stop_reason == "interrupted"
    resolved = [e for e in events if e.type == "permission.resolved"]
    assert len(resolved) == 1 and resolved[0].data.status == "reject"


@pytest.mark.parametrize("how", ["crash", "garbage"])
async def test_a_broken_agent_ends_the_turn_and_the_session_cleanly(
    client: SandboxAgent, tmp_path: Path, how: str
) -> None:
    s = await open_session(client, tmp_path / "w")
    turn = await s.send(how)
    events = await until(s, 0, lambda e: e.type == "session.ended", timeout=30)
    types = [e.type for e in events]
    assert types.index("error") < types.index("turn.ended") < types.index("session.ended")
    error = next(e for e in events if e.type == "error")
    turn_ended = next(e for e in events if e.type == "turn.ended")
    assert turn_ended.data.turn_id == turn and turn_ended.data.stop_reason == "error"
    session_ended = events[-1]
    assert session_ended.data.reason == "error"
    message = completed(events, "message")[-1]
    assert message.status == "failed" and message.content  # the streamed text so far is kept
    if how == "crash":
        assert "exited (code 3)" in error.data.message and session_ended.data.exit_code == 3
    else:
        assert "broke the ACP protocol" in error.data.message and "not json-rpc" in error.data.message
    assert (await s.get()).status == "ended"
