"""Codex through the daemon: the real `codex app-server` (installed by our installer) against the fake provider."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox_agent.client import SandboxAgent, Session
from sandbox_agent.install import Installer
from sandbox_agent.testing import FakeLLM

from .agent_helpers import completed, pids_where, until


def app_server_pids() -> list[int]:
    return pids_where(lambda argv: len(argv) > 1 and argv[0].endswith(b"/codex") and argv[1] == b"app-server")


pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]

PATCH = "*** Begin Patch\n*** Add File: patched.txt\n+from apply_patch\n*** End Patch\n"


@pytest.fixture(scope="module")
def codex_installed() -> None:
    asyncio.run(Installer().install("codex"))


@pytest.fixture
async def client(codex_installed: None) -> AsyncIterator[SandboxAgent]:
    async with await SandboxAgent.start(ephemeral=True) as c:
        yield c


async def open_session(client: SandboxAgent, fake: FakeLLM, work: Path, mode: str = "bypass") -> Session:
    work.mkdir(exist_ok=True)
    env = {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake-test"}
    return await client.create_session("codex", cwd=str(work), model="fake-model", permission_mode=mode, env=env)


async def test_command_and_patch_turns(client: SandboxAgent, tmp_path: Path) -> None:
    work = tmp_path / "w"
    async with FakeLLM(
        [
            {"thinking": "plan", "tool": "exec_command", "input": {"cmd": "echo hi > hello.txt && cat hello.txt"}},
            {"tools": [{"name": "apply_patch", "input": PATCH, "custom": True}]},
            {"text": "done"},
        ]
    ) as fake:
        s = await open_session(client, fake, work)
        r = await s.prompt("do it", timeout=90)
        assert r.text == "done" and r.stop_reason == "end_turn"
        events = await until(s, 0, lambda e: e.type == "turn.ended")
        cmd = completed(events, "command")[0].content[0]
        assert cmd.exit_code == 0 and cmd.output.strip() == "hi"
        assert (work / "hello.txt").read_text() == "hi\n" and (work / "patched.txt").read_text() == "from apply_patch\n"
        change = completed(events, "file_change")[0].content[0]
        assert change.path.endswith("patched.txt") and "from apply_patch" in change.diff
        assert completed(events, "reasoning")[0].content[0].text == "plan"
        assert not [e for e in events if e.type == "agent.unparsed"]


@pytest.mark.parametrize("reply", ["once", "reject"])
async def test_command_approval(client: SandboxAgent, tmp_path: Path, reply: str) -> None:
    work = tmp_path / "w"
    async with FakeLLM([{"tool": "exec_command", "input": {"cmd": "echo hi > out.txt"}}, {"echo": True}]) as fake:
        s = await open_session(client, fake, work, mode="default")
        turn = await s.send("write it")
        req = (await until(s, 0, lambda e: e.type == "permission.requested"))[-1]
        assert req.data.action == "command" and "echo hi > out.txt" in req.data.metadata["command"]
        await s.reply_permission(req.data.permission_id, reply)
        events = await until(s, req.sequence, lambda e: e.type == "turn.ended" and e.data.turn_id == turn)
        assert (work / "out.txt").exists() == (reply == "once")
        resolved = next(e for e in events if e.type == "permission.resolved")
        assert resolved.data.status == ("accept" if reply == "once" else "reject")
        if reply == "reject":
            seen = [i for i in fake.main_requests()[-1]["body"]["input"] if i.get("type") == "function_call_output"]
            assert "rejected" in seen[-1]["output"]


async def test_interrupt_then_continue(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "word " * 200, "chunk_delay_ms": 150}, {"text": "after"}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        turn = await s.send("talk")
        await until(s, 0, lambda e: e.type == "item.delta")
        assert await s.interrupt() is True
        events = await until(s, 0, lambda e: e.type == "turn.ended" and e.data.turn_id == turn, timeout=30)
        assert events[-1].data.stop_reason == "interrupted"
        assert (await s.prompt("again", timeout=90)).text == "after"


async def test_sessions_share_one_app_server_which_restarts_and_resumes(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "one"}, {"text": "two"}, {"echo": True}]) as fake:
        before = set(app_server_pids())
        a = await open_session(client, fake, tmp_path / "a")
        b = await open_session(client, fake, tmp_path / "b")
        assert (await a.prompt("remember kiwi", timeout=90)).text == "one"
        assert (await b.prompt("hello b", timeout=90)).text == "two"
        ours = set(app_server_pids()) - before
        assert len(ours) == 1, "one shared app-server for both sessions"
        os.kill(ours.pop(), signal.SIGKILL)
        err = (await until(a, 0, lambda e: e.type == "error" and e.data.code == "app_server_exited"))[-1]
        assert "exited" in err.data.message
        assert (await a.get()).status == "idle", "the session survives its server"
        r = await a.prompt("what fruit?", timeout=90)  # restarts the server and resumes the thread
        assert r.text == "what fruit?"
        assert "remember kiwi" in str(fake.main_requests()[-1]["body"]["input"])


async def test_image_input_reaches_the_model(client: SandboxAgent, tmp_path: Path) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    async with FakeLLM([{"text": "seen"}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        r = await s.prompt(
            [{"type": "text", "text": "look"}, {"type": "image", "mime": "image/png", "data": png}], timeout=90
        )
        assert r.text == "seen"
        assert png in str(fake.main_requests()[0]["body"]["input"])


@pytest.mark.parametrize("decision", ["once", "reject", "cancel"])
async def test_patch_approval(client: SandboxAgent, tmp_path: Path, decision: str) -> None:
    work = tmp_path / "w"
    async with FakeLLM([{"tools": [{"name": "apply_patch", "input": PATCH, "custom": True}]}, {"text": "end"}]) as fake:
        s = await open_session(client, fake, work, mode="default")
        turn = await s.send("patch it")
        req = (await until(s, 0, lambda e: e.type == "permission.requested"))[-1]
        assert req.data.action == "file_change"
        if decision == "cancel":
            assert await s.interrupt() is True
        else:
            await s.reply_permission(req.data.permission_id, decision)
        events = await until(s, req.sequence, lambda e: e.type == "turn.ended" and e.data.turn_id == turn)
        assert (work / "patched.txt").exists() == (decision == "once")
        stop = events[-1].data.stop_reason
        assert stop == ("interrupted" if decision == "cancel" else "end_turn")
        assert next(e for e in events if e.type == "permission.resolved").data.status == (
            "accept" if decision == "once" else "reject"
        )
        assert (await s.prompt("still there?", timeout=90)).text in ("end", "(fake: script exhausted)")


async def test_command_cancel_stops_the_turn(client: SandboxAgent, tmp_path: Path) -> None:
    work = tmp_path / "w"
    async with FakeLLM([{"tool": "exec_command", "input": {"cmd": "echo hi > out.txt"}}, {"text": "never"}]) as fake:
        s = await open_session(client, fake, work, mode="default")
        turn = await s.send("write it")
        await until(s, 0, lambda e: e.type == "permission.requested")
        await s.interrupt()
        events = await until(s, 0, lambda e: e.type == "turn.ended" and e.data.turn_id == turn)
        assert events[-1].data.stop_reason == "interrupted" and not (work / "out.txt").exists()
        assert len(fake.main_requests()) == 1, "no further model call after a cancel"


async def test_http_500_leaves_the_thread_usable(client: SandboxAgent, tmp_path: Path) -> None:
    boom = {"error": {"status": 500, "message": "boom"}}
    # enough failures to outlast Codex's own retries (request x stream retries from the provider config)
    async with FakeLLM([boom] * 8) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        r = await s.prompt("first", timeout=90)
        assert r.stop_reason == "error"
        fake.queue.replies, fake.queue.used = [], 0
        fake.enqueue({"text": "recovered"})
        events, _, _ = await client.read_events(s.id, 0, 100)
        assert any(e.type == "error" for e in events)
        assert (await s.prompt("second", timeout=90)).text == "recovered"


async def test_two_sessions_run_turns_at_the_same_time(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "x " * 40, "chunk_delay_ms": 20}, {"text": "y " * 40, "chunk_delay_ms": 20}]) as fake:
        a = await open_session(client, fake, tmp_path / "a")
        b = await open_session(client, fake, tmp_path / "b")
        ra, rb = await asyncio.gather(a.prompt("a", timeout=90), b.prompt("b", timeout=90))
        assert {ra.text.split()[0], rb.text.split()[0]} == {"x", "y"}


async def test_resume_after_daemon_restart(server_factory, tmp_path: Path, codex_installed: None) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    async with FakeLLM([{"text": "noted"}, {"echo": True}]) as fake:
        env = {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake-test"}
        srv = server_factory(state_dir=state)
        c1 = await SandboxAgent.connect(srv.url, srv.token, reconnect=False)
        s = await open_session(c1, fake, tmp_path / "w")
        await s.prompt("the code is 7788", timeout=90)
        thread = (await s.get()).native_session_id
        srv.kill9()
        await c1.close()
        srv2 = server_factory(state_dir=state)
        c2 = await SandboxAgent.connect(srv2.url, srv2.token)
        s2 = await c2.resume_session(s.id, env=env)
        assert s2.info is not None and s2.info.native_session_id == thread
        assert (await s2.prompt("and the code?", timeout=90)).text == "and the code?"
        assert "the code is 7788" in str(fake.main_requests()[-1]["body"]["input"])
        await c2.close()
