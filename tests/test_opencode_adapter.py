"""OpenCode through the daemon: the real `opencode serve` (installed by our installer) against the fake provider."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox_agent.client import SandboxAgent, Session
from sandbox_agent.install import Installer
from sandbox_agent.schema.events import UniversalEvent
from sandbox_agent.testing import FakeLLM

from .agent_helpers import completed, ended, pids_where, until

pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]


@pytest.fixture(scope="module")
def opencode_installed() -> None:
    asyncio.run(Installer().install("opencode"))


@pytest.fixture
async def client(opencode_installed: None) -> AsyncIterator[SandboxAgent]:
    async with await SandboxAgent.start(ephemeral=True) as c:
        yield c


async def open_session(client: SandboxAgent, fake: FakeLLM, work: Path, mode: str = "bypass") -> Session:
    work.mkdir(exist_ok=True)
    env = {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake-test"}
    return await client.create_session("opencode", cwd=str(work), model="fake-model", permission_mode=mode, env=env)


def bash(command: str) -> dict[str, Any]:
    return {"tool": "bash", "input": {"command": command, "description": "run it"}}


async def test_bash_and_write_turns(client: SandboxAgent, tmp_path: Path) -> None:
    work = tmp_path / "w"
    async with FakeLLM(
        [
            bash("echo hi > hello.txt && cat hello.txt"),
            {"tool": "write", "input": {"filePath": str(work / "w.txt"), "content": "written\n"}},
            {"text": "done"},
        ]
    ) as fake:
        s = await open_session(client, fake, work)
        r = await s.prompt("go", timeout=90)
        assert r.text == "done"
        events = await until(s, 0, ended(r.turn_id))
        cmd = completed(events, "command")[0].content[0]
        assert cmd.exit_code == 0 and cmd.output.strip() == "hi"
        change = completed(events, "file_change")[0].content[0]
        assert change.path == str(work / "w.txt") and "+written" in change.diff
        assert (work / "w.txt").read_text() == "written\n"
        assert not [e for e in events if e.type == "agent.unparsed"]


@pytest.mark.parametrize("reply", ["once", "always", "reject", "reject_with_message"])
async def test_permissions(client: SandboxAgent, tmp_path: Path, reply: str) -> None:
    work = tmp_path / "w"
    async with FakeLLM([bash("echo one >> perm.txt"), bash("echo two >> perm.txt"), {"echo": True}]) as fake:
        s = await open_session(client, fake, work, mode="default")
        turn = await s.send("append twice")
        req = (await until(s, 0, lambda e: e.type == "permission.requested"))[-1]
        assert req.data.action == "bash"
        message = "no commands today" if reply == "reject_with_message" else None
        await s.reply_permission(req.data.permission_id, "reject" if "reject" in reply else reply, message)
        # answer any later request the same way (a plain reject stops the turn; feedback lets it go on)
        follow_up = "once" if reply == "once" else "reject"
        events: list[UniversalEvent] = []
        offset = req.sequence
        while not events or not ended(turn)(events[-1]):
            batch = await until(s, offset, lambda e: e.type == "permission.requested" or ended(turn)(e))
            events += batch
            offset = batch[-1].sequence
            if batch[-1].type == "permission.requested":
                await s.reply_permission(batch[-1].data.permission_id, follow_up)
        asked = [e for e in events if e.type == "permission.requested"]
        text = (work / "perm.txt").read_text() if (work / "perm.txt").exists() else ""
        if reply == "always":
            assert text == "one\ntwo\n" and not asked, "the second call was not asked"
        elif reply == "once":
            assert text == "one\ntwo\n" and len(asked) == 1, "once covers one call: the second is asked again"
        else:
            assert text == ""
            assert next(e for e in events if e.type == "permission.resolved").data.status == "reject"
            if message:
                assert message in str(fake.main_requests()[-1]["body"]["messages"])


@pytest.mark.parametrize("answer", [True, False])
async def test_questions(client: SandboxAgent, tmp_path: Path, answer: bool) -> None:
    ask = {
        "questions": [
            {
                "question": "Which color?",
                "header": "Color",
                "options": [{"label": "Red", "description": "warm"}, {"label": "Blue", "description": "cool"}],
            }
        ]
    }
    async with FakeLLM([{"tool": "question", "input": ask}, {"echo": True}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        turn = await s.send("ask me")
        q = (await until(s, 0, lambda e: e.type == "question.requested"))[-1]
        assert q.data.options == ["Red", "Blue"]
        if answer:
            await s.answer_question(q.data.question_id, [["Blue"]])
        else:
            await s.reject_question(q.data.question_id)
        events = await until(s, q.sequence, ended(turn))
        resolved = next(e for e in events if e.type == "question.resolved")
        assert resolved.data.status == ("answered" if answer else "rejected")
        if answer:
            assert "Blue" in str(fake.main_requests()[-1]["body"]["messages"][-1])


async def test_abort_during_a_pending_permission(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([bash("echo x >> p.txt"), {"text": "later"}]) as fake:
        s = await open_session(client, fake, tmp_path / "w", mode="default")
        turn = await s.send("try")
        await until(s, 0, lambda e: e.type == "permission.requested")
        assert await s.interrupt() is True
        events = await until(s, 0, ended(turn), timeout=30)
        assert events[-1].data.stop_reason == "interrupted"
        assert not [e for e in events if e.type == "error"], "an abort is not reported as an API error"
        info = await s.get()
        assert info.status == "idle" and not info.pending_permissions
        assert (await s.prompt("again", timeout=90)).text == "later"


async def test_400_fails_fast_and_500_is_retried(client: SandboxAgent, tmp_path: Path) -> None:
    bad = {"error": {"status": 400, "type": "invalid_request_error", "message": "bad request"}}
    flaky = {"error": {"status": 500, "type": "server_error", "message": "boom", "retry_after": 0}}
    async with FakeLLM([bad, flaky, {"text": "recovered"}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        r1 = await s.prompt("first", timeout=90)
        assert r1.stop_reason == "error"
        r2 = await s.prompt("second", timeout=90)
        assert r2.text == "recovered" and r2.stop_reason == "end_turn"
        events, _, _ = await client.read_events(s.id, 0, 200)
        codes = [e.data.code for e in events if e.type == "error"]
        assert "APIError" in codes and "retry" in codes
        assert len(fake.main_requests()) == 3


async def test_two_directories_on_one_server_at_once(client: SandboxAgent, tmp_path: Path) -> None:
    # One script for both sessions: each must get a bash call first. Its answer waits 3 s, so whichever session
    # asks first cannot come back for its second reply before the other one has asked for its first.
    slow_bash = {**bash("pwd > where.txt"), "initial_delay_ms": 3000}
    async with FakeLLM([slow_bash, slow_bash, {"text": "a"}, {"text": "b"}]) as fake:
        a = await open_session(client, fake, tmp_path / "a")
        b = await open_session(client, fake, tmp_path / "b")
        await asyncio.gather(a.prompt("a", timeout=90), b.prompt("b", timeout=90))
        assert (tmp_path / "a" / "where.txt").read_text().strip() == str(tmp_path / "a")
        assert (tmp_path / "b" / "where.txt").read_text().strip() == str(tmp_path / "b")


async def test_server_crash_and_recovery(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "one"}, {"echo": True}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        assert (await s.prompt("remember mango", timeout=90)).text == "one"
        native = (await s.get()).native_session_id
        pids = pids_where(lambda argv: len(argv) > 1 and argv[0].endswith(b"/opencode") and argv[1] == b"serve")
        assert pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        await until(s, 0, lambda e: e.type == "error" and e.data.code == "server_exited")
        r = await s.prompt("what fruit?", timeout=90)
        assert r.text == "what fruit?"
        assert (await s.get()).native_session_id == native
        assert "remember mango" in str(fake.main_requests()[-1]["body"]["messages"])
