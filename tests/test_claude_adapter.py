"""Claude Code through the daemon: the real `claude` binary (installed by our installer) against the fake provider."""

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

from .agent_helpers import completed, ended, pids_where, until


def claude_pids(native_id: str) -> list[int]:
    return pids_where(lambda argv: native_id.encode() in argv and b"stream-json" in argv)


pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]


@pytest.fixture(scope="module")
def claude_installed() -> None:
    asyncio.run(Installer().install("claude"))


@pytest.fixture
async def client(claude_installed: None) -> AsyncIterator[SandboxAgent]:
    async with await SandboxAgent.start(ephemeral=True) as c:
        yield c


async def open_session(client: SandboxAgent, fake: FakeLLM, work: Path, mode: str = "bypass") -> Session:
    work.mkdir(exist_ok=True)
    env = {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-test"}
    return await client.create_session("claude", cwd=str(work), permission_mode=mode, env=env)


async def test_tool_turn_writes_a_file_with_a_diff(client: SandboxAgent, tmp_path: Path) -> None:
    work = tmp_path / "work"
    target = work / "hello.txt"
    async with FakeLLM(
        [{"tool": "Write", "input": {"file_path": str(target), "content": "hi\nthere\n"}}, {"text": "done"}]
    ) as fake:
        s = await open_session(client, fake, work)
        r = await s.prompt("create hello.txt", timeout=90)
        assert r.text == "done" and r.stop_reason == "end_turn"
        assert target.read_text() == "hi\nthere\n"
        events = await until(s, 0, ended(r.turn_id))
        change = completed(events, "file_change")[0]
        assert change.content[0].path == str(target) and "+hi" in change.content[0].diff
        assert change.status == "completed"
        assert not [e for e in events if e.type == "agent.unparsed"]
        turn_ended = next(e for e in events if e.type == "turn.ended")
        assert turn_ended.data.usage is not None and turn_ended.data.usage.output_tokens


async def test_streamed_text_and_two_warm_turns(client: SandboxAgent, tmp_path: Path) -> None:
    long = "The quick brown fox jumps over the lazy dog. " * 4
    async with FakeLLM([{"text": long}, {"text": "second"}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        r1 = await s.prompt("tell me", timeout=90)
        assert r1.text == long
        events = await until(s, 0, ended(r1.turn_id))
        deltas = [e for e in events if e.type == "item.delta" and not e.synthetic]
        assert len(deltas) >= 3 and "".join(d.data.delta for d in deltas) == long
        pids = claude_pids(s.info.native_session_id)  # type: ignore[union-attr]
        r2 = await s.prompt("again", timeout=90)
        assert r2.text == "second"
        assert claude_pids(s.info.native_session_id) == pids and len(pids) == 1, "one warm process for both turns"  # type: ignore[union-attr]
        history = fake.main_requests()[1]["body"]["messages"]
        assert any("tell me" in str(m) for m in history)


@pytest.mark.parametrize("reply", ["once", "reject", "reject_with_message"])
async def test_permission_round_trip(client: SandboxAgent, tmp_path: Path, reply: str) -> None:
    work = tmp_path / "work"
    async with FakeLLM(
        [{"tool": "Bash", "input": {"command": "echo hi > out.txt", "description": "write"}}, {"echo": True}]
    ) as fake:
        s = await open_session(client, fake, work, mode="default")
        turn = await s.send("write out.txt")
        req = (await until(s, 0, lambda e: e.type == "permission.requested"))[-1]
        assert req.data.action == "Bash" and req.data.metadata["input"]["command"] == "echo hi > out.txt"
        assert (await s.get()).status == "awaiting_input"
        message = "not on a Friday" if reply == "reject_with_message" else None
        await s.reply_permission(req.data.permission_id, "once" if reply == "once" else "reject", message)
        events = await until(s, req.sequence, ended(turn))
        resolved = next(e for e in events if e.type == "permission.resolved")
        command = completed(events, "command")[0]
        if reply == "once":
            assert resolved.data.status == "accept"
            assert (work / "out.txt").read_text() == "hi\n"
            assert command.status == "completed" and command.content[0].exit_code == 0
        else:
            assert resolved.data.status == "reject"
            assert not (work / "out.txt").exists()
            assert command.status == "failed"
            seen = fake.main_requests()[1]["body"]["messages"][-1]["content"][0]
            assert seen["type"] == "tool_result" and seen["is_error"] is True
            if message:
                assert message in str(seen["content"])


@pytest.mark.parametrize("answer", [True, False])
async def test_question_answered_or_rejected(client: SandboxAgent, tmp_path: Path, answer: bool) -> None:
    ask = {
        "questions": [
            {
                "question": "Which color?",
                "header": "Color",
                "multiSelect": False,
                "options": [{"label": "Red", "description": "warm"}, {"label": "Blue", "description": "cool"}],
            }
        ]
    }
    async with FakeLLM([{"tool": "AskUserQuestion", "input": ask}, {"echo": True}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        turn = await s.send("pick a color")
        q = (await until(s, 0, lambda e: e.type == "question.requested"))[-1]
        assert q.data.prompt == "Which color?" and q.data.options == ["Red", "Blue"]
        assert q.data.questions[0].options[1].description == "cool"
        if answer:
            await s.answer_question(q.data.question_id, [["Blue"]])
        else:
            await s.reject_question(q.data.question_id)
        events = await until(s, q.sequence, ended(turn))
        resolved = next(e for e in events if e.type == "question.resolved")
        final = [i for i in completed(events, "message") if i.role == "assistant"][-1].content[0].text
        if answer:
            assert resolved.data.status == "answered" and resolved.data.response == [["Blue"]]
            assert '"Which color?"="Blue"' in final
        else:
            assert resolved.data.status == "rejected" and "declined" in final


async def test_interrupt_while_streaming_then_continue(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "word " * 200, "chunk_delay_ms": 150}, {"text": "after"}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        turn = await s.send("talk slowly")
        await until(s, 0, lambda e: e.type == "item.delta")
        assert await s.interrupt() is True
        events = await until(s, 0, ended(turn), timeout=30)
        assert events[-1].data.stop_reason == "interrupted"
        r = await s.prompt("go on", timeout=90)
        assert r.text == "after"


async def test_interrupt_during_a_running_tool(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM(
        [{"tool": "Bash", "input": {"command": "sleep 30", "description": "wait"}}, {"text": "x"}]
    ) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        turn = await s.send("wait a while")
        await until(s, 0, lambda e: e.type == "item.started" and e.data.item.kind == "command")
        await asyncio.sleep(1.5)  # the tool is running now
        started = asyncio.get_running_loop().time()
        await s.interrupt()
        events = await until(s, 0, ended(turn), timeout=30)
        assert asyncio.get_running_loop().time() - started < 10, "interrupt did not wait for sleep 30"
        assert events[-1].data.stop_reason == "interrupted"
        assert completed(events, "command")[0].status == "failed"
        assert (await s.get()).status == "idle"


async def test_resume_of_a_lost_conversation_starts_fresh_and_says_so(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "one"}, {"text": "two"}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        turn = await s.send("hello")
        await until(s, 0, lambda e: e.type == "item.started")
        native = (await s.get()).native_session_id
        for pid in claude_pids(native or "-"):  # killed before Claude saved anything
            os.kill(pid, signal.SIGKILL)
        await until(s, 0, lambda e: e.type == "session.ended")
        r = await s.prompt("again", timeout=90)
        assert r.text in ("one", "two")
        events, _, _ = await client.read_events(s.id, 0, 1000)
        assert any(e.type == "error" and e.data.code == "resume_failed" for e in events)
        assert (await s.get()).native_session_id != native
        assert turn


async def test_crash_then_resume_keeps_the_history(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "first answer"}, {"echo": True}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        await s.prompt("remember the word alpaca", timeout=90)
        native = (await s.get()).native_session_id
        assert native
        # Claude writes its own transcript just after the turn (later on a loaded machine): kill it only once the
        # answer is in there, or the resume has nothing to resume
        pattern = f"tmp/sandbox-agent-*/{s.id}/claude/claude/projects/*/{native}.jsonl"
        deadline = asyncio.get_running_loop().time() + 30
        while not any("first answer" in f.read_text(errors="replace") for f in Path("/").glob(pattern)):
            assert asyncio.get_running_loop().time() < deadline, "claude never wrote the answer to its transcript"
            await asyncio.sleep(0.05)
        for pid in claude_pids(native):
            os.kill(pid, signal.SIGKILL)
        session_ended = (await until(s, 0, lambda e: e.type == "session.ended"))[-1]
        assert session_ended.data.reason == "error" and session_ended.data.exit_code == -9
        r = await s.prompt("what was the word?", timeout=90)  # restarts claude with --resume
        assert r.text == "what was the word?"
        history = str(fake.main_requests()[-1]["body"]["messages"])
        assert "remember the word alpaca" in history and "first answer" in history
        assert (await s.get()).native_session_id == native


PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


async def test_images_and_files_become_content_blocks(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "seen"}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        r = await s.prompt(
            [
                {"type": "text", "text": "what is in these?"},
                {"type": "image", "mime": "image/png", "data": PNG_1PX},
                {"type": "file", "data": "aGVsbG8gZmlsZQ==", "mime": "text/plain", "name": "notes.txt"},
            ],
            timeout=90,
        )
        assert r.text == "seen"
        messages = fake.main_requests()[0]["body"]["messages"]
        last = next(
            m["content"]
            for m in reversed(messages)
            if m["role"] == "user"
            and isinstance(m["content"], list)
            and any(b.get("type") == "image" for b in m["content"])
        )
        image = next(b for b in last if b["type"] == "image")
        assert image["source"]["data"] == PNG_1PX and image["source"]["media_type"] == "image/png"
        assert any(b["type"] == "text" and "hello file" in b["text"] for b in last)


async def test_resume_after_daemon_kill_9(server_factory, tmp_path: Path, claude_installed: None) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    async with FakeLLM([{"text": "noted"}, {"echo": True}]) as fake:
        srv = server_factory(state_dir=state)
        c1 = await SandboxAgent.connect(srv.url, srv.token, reconnect=False)
        s = await open_session(c1, fake, tmp_path / "w")
        await s.prompt("the secret is 4242", timeout=90)
        native = (await s.get()).native_session_id
        await asyncio.sleep(1.0)  # let Claude save its own transcript
        srv.kill9()
        await c1.close()
        for _ in range(100):  # claude dies with the daemon
            if not claude_pids(native or "-"):
                break
            await asyncio.sleep(0.05)
        srv2 = server_factory(state_dir=state)
        c2 = await SandboxAgent.connect(srv2.url, srv2.token)
        info = await c2.get_session(s.id)
        assert info.status == "ended"
        # the journal never holds keys: give them again (or run the daemon with them in its environment)
        s2 = await c2.resume_session(s.id, env={"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-test"})
        r = await s2.prompt("and the secret?", timeout=90)
        assert r.text == "and the secret?"
        assert "the secret is 4242" in str(fake.main_requests()[-1]["body"]["messages"])
        await c2.close()
