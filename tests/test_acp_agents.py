"""Gemini CLI and pi through the generic ACP adapter: the real agents (installed by our installer, pinned) against
the fake provider — a tool turn, a permission, interrupt, resume."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox_agent.client import SandboxAgent, Session
from sandbox_agent.install import Installer
from sandbox_agent.testing import FakeLLM

from .agent_helpers import completed, ended, pids_where, until

pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]


@dataclass
class Agent:
    id: str
    write: str  # the tool that writes a whole file, and its argument names
    path_arg: str
    shell: str  # the tool that runs a shell command

    def env(self, fake: FakeLLM) -> dict[str, str]:
        if self.id == "gemini":
            return {"GOOGLE_GEMINI_BASE_URL": fake.url, "GEMINI_API_KEY": "fake-gemini-key"}
        return {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake-test"}

    def history(self, fake: FakeLLM) -> str:
        body = fake.main_requests()[-1]["body"]
        return str(body.get("contents") or body.get("messages"))


GEMINI = Agent("gemini", "write_file", "file_path", "run_shell_command")
PI = Agent("pi", "write", "path", "bash")


@pytest.fixture(scope="module")
def installed() -> None:
    async def both() -> None:
        await asyncio.gather(Installer().install("gemini"), Installer().install("pi"))

    asyncio.run(both())


@pytest.fixture
async def client(installed: None) -> AsyncIterator[SandboxAgent]:
    async with await SandboxAgent.start(ephemeral=True) as c:
        yield c


async def open_session(client: SandboxAgent, agent: Agent, fake: FakeLLM, work: Path, mode: str = "bypass") -> Session:
    work.mkdir(exist_ok=True)
    return await client.create_session(agent.id, cwd=str(work), permission_mode=mode, env=agent.env(fake))


@pytest.mark.parametrize("agent", [GEMINI, PI], ids=lambda a: a.id)
async def test_tool_turn_writes_a_file(client: SandboxAgent, tmp_path: Path, agent: Agent) -> None:
    work = tmp_path / "work"
    target = work / "hello.txt"
    replies: list[Any] = [
        {"tool": agent.write, "input": {agent.path_arg: str(target), "content": "hi\nthere\n"}},
        {"text": "The file is written. " * 5},
    ]
    async with FakeLLM(replies) as fake:
        s = await open_session(client, agent, fake, work)
        r = await s.prompt("create hello.txt", timeout=120)
        assert r.stop_reason == "end_turn" and r.text == "The file is written. " * 5
        assert target.read_text() == "hi\nthere\n"
        events = await until(s, 0, ended(r.turn_id))
        change = completed(events, "file_change")[0]
        assert change.status == "completed" and change.content[0].path == str(target)
        if agent is GEMINI:  # pi-acp sends a diff for edit, not for a whole-file write
            assert "+hi" in change.content[0].diff
        deltas = [e for e in events if e.type == "item.delta" and not e.synthetic]
        assert len(deltas) >= 2, "text streams in chunks"
        assert not [e for e in events if e.type in ("agent.unparsed", "error")]
        assert "hello.txt" in agent.history(fake)
        assert (await s.get()).native_session_id


@pytest.mark.parametrize("agent", [GEMINI, PI], ids=lambda a: a.id)
async def test_permission_round_trip(client: SandboxAgent, tmp_path: Path, agent: Agent) -> None:
    shell = {"tool": agent.shell, "input": {"command": "echo hi > out.txt"}}
    for reply in ("once", "reject"):
        work = tmp_path / reply
        async with FakeLLM([shell, {"echo": True}]) as fake:
            s = await open_session(client, agent, fake, work, mode="default")
            turn = await s.send("write out.txt")
            req = (await until(s, 0, lambda e: e.type == "permission.requested", timeout=90))[-1]
            assert "echo hi > out.txt" in req.data.action
            assert {o["kind"] for o in req.data.metadata["options"]} >= {"allow_once", "reject_once"}
            assert (await s.get()).status == "awaiting_input"
            await s.reply_permission(req.data.permission_id, reply)
            events = await until(s, req.sequence, ended(turn), timeout=90)
            resolved = next(e for e in events if e.type == "permission.resolved")
            commands = completed(events, "command")
            if reply == "once":
                assert resolved.data.status == "accept"
                assert (work / "out.txt").read_text() == "hi\n"
                assert commands[0].status == "completed" and commands[0].content[0].command == "echo hi > out.txt"
            else:
                # Gemini reports a rejected call only to the model (no tool_call update, so no command item)
                assert resolved.data.status == "reject"
                assert not (work / "out.txt").exists()
                assert not [c for c in commands if c.status == "completed"]
                seen = agent.history(fake)
                assert "canceled by the user" in seen or "rejected this action" in seen
            await s.terminate()


@pytest.mark.parametrize("agent", [GEMINI, PI], ids=lambda a: a.id)
async def test_interrupt_then_the_next_turn_works(client: SandboxAgent, tmp_path: Path, agent: Agent) -> None:
    slow = {"text": "slow words " * 200, "chunk_delay_ms": 50}
    async with FakeLLM([slow, {"text": "after"}]) as fake:
        s = await open_session(client, agent, fake, tmp_path / "w")
        turn = await s.send("talk slowly")
        await until(s, 0, lambda e: e.type == "item.delta", timeout=90)
        await s.interrupt()
        events = await until(s, 0, ended(turn), timeout=30)
        assert events[-1].data.stop_reason == "interrupted"
        r = await s.prompt("again", timeout=120)
        assert r.text == "after" and r.stop_reason == "end_turn"


@pytest.mark.parametrize("agent", [GEMINI, PI], ids=lambda a: a.id)
async def test_crash_then_resume_keeps_the_history(client: SandboxAgent, tmp_path: Path, agent: Agent) -> None:
    async with FakeLLM([{"text": "first answer"}, {"echo": True}]) as fake:
        s = await open_session(client, agent, fake, tmp_path / "w")
        await s.prompt("remember the word alpaca", timeout=120)
        native = (await s.get()).native_session_id
        assert native
        await asyncio.sleep(1.0)  # the agent saves its session file after the turn
        pids = agent_session_pids(s.id)
        assert pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        session_ended = (await until(s, 0, lambda e: e.type == "session.ended", timeout=30))[-1]
        assert session_ended.data.reason == "error"
        r = await s.prompt("what was the word?", timeout=120)  # a new process, session/load of the same session
        assert r.text == "what was the word?"
        history = agent.history(fake)
        assert "remember the word alpaca" in history and "first answer" in history
        assert (await s.get()).native_session_id == native
        events = await until(s, 0, ended(r.turn_id))
        assert not [e for e in events if e.type == "error"]


def agent_session_pids(session_id: str) -> list[int]:
    """The agent processes of one daemon session (their private home lives under the session's state folder)."""
    out = []
    for pid in pids_where(lambda argv: any(b"gemini.js" in a or b"pi-acp" in a for a in argv)):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"/{session_id}/".encode() in env:
            out.append(pid)
    return out


PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


async def test_gemini_gets_images_inline(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "a pixel"}]) as fake:
        s = await open_session(client, GEMINI, fake, tmp_path / "w")
        image = {"type": "image", "mime": "image/png", "data": PNG_1PX}
        parts: list[Any] = [{"type": "text", "text": "what is this?"}, image]
        r = await s.prompt(parts, timeout=120)
        assert r.text == "a pixel"
        sent = fake.main_requests()[-1]["body"]["contents"][-1]["parts"]
        assert {"inlineData": {"data": PNG_1PX, "mimeType": "image/png"}} in sent
