"""Session control with the real `claude` against the fake Anthropic API: steer (native stream-JSON input
mid-turn), queue, configure (control requests), fork (--fork-session, or replay at an earlier boundary)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox_agent.client import SandboxAgent, Session
from sandbox_agent.install import Installer
from sandbox_agent.testing import FakeLLM

from .agent_helpers import ended, until

pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]


@pytest.fixture(scope="module")
def claude_installed() -> None:
    asyncio.run(Installer().install("claude"))


@pytest.fixture
async def client(claude_installed: None, tmp_path: Path) -> AsyncIterator[SandboxAgent]:
    async with await SandboxAgent.start(state_dir=str(tmp_path / "state")) as c:
        yield c


async def open_session(client: SandboxAgent, fake: FakeLLM, work: Path, mode: str = "bypass") -> Session:
    work.mkdir(exist_ok=True)
    env = {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-test"}
    return await client.create_session("claude", cwd=str(work), permission_mode=mode, env=env)


def messages(request: dict) -> str:  # type: ignore[type-arg]
    return str(request["body"]["messages"])


async def test_steer_rides_on_the_turns_next_model_request(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM(
        [{"tool": "Bash", "input": {"command": "sleep 2; echo slept", "description": "wait"}}, {"text": "done"}]
    ) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        turn = await s.send("run the slow thing")
        await until(s, 0, lambda e: e.type == "item.started" and e.data.item.kind == "command", timeout=90)
        r = await s.deliver("also update the tests", delivery="steer")
        assert r.outcome == "steered" and r.native is True and r.turn_id == turn
        events = await until(s, 0, ended(turn), timeout=90)
        assert sum(e.type == "turn.started" for e in events) == 1
        assert len(fake.main_requests()) == 2
        assert "also update the tests" in messages(fake.main_requests()[-1])


async def test_steer_after_the_last_request_still_one_turn(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "word " * 30, "chunk_delay_ms": 60}, {"echo": True}, {"text": "next"}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        turn = await s.send("talk")
        await until(s, 0, lambda e: e.type == "item.delta", timeout=90)
        await s.deliver("late steer", delivery="steer")
        events = await until(s, 0, ended(turn), timeout=90)
        texts = [e.data.item.content[0].text for e in events if e.type == "item.completed" and e.data.item.role == "assistant" and e.data.item.kind == "message"]  # noqa: E501
        assert texts[-1] == "late steer", "Claude answered the steered message before the daemon turn ended"
        assert sum(e.type == "turn.started" for e in events) == 1
        assert (await s.prompt("after", timeout=90)).text == "next"


async def test_queue_runs_in_order(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "word " * 20, "chunk_delay_ms": 50}, *[{"echo": True}] * 3]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        await s.send("talk")
        a = await s.deliver("queued one", delivery="queue")
        b = await s.deliver("queued two", delivery="queue")
        c = await s.deliver("queued three", delivery="queue")
        events = await until(s, 0, ended(c.turn_id), timeout=120)
        turns = [e.data.turn_id for e in events if e.type == "turn.started"]
        assert turns[1:] == [a.turn_id, b.turn_id, c.turn_id]
        lasts = [str(r["body"]["messages"][-1]) for r in fake.main_requests()[1:]]
        assert "queued one" in lasts[0] and "queued two" in lasts[1] and "queued three" in lasts[2]


async def test_configure_model_and_permission_mode(client: SandboxAgent, tmp_path: Path) -> None:
    work = tmp_path / "w"
    async with FakeLLM(
        [
            {"text": "one"},
            {"tool": "Bash", "input": {"command": "echo hi > asked.txt", "description": "write"}},
            {"text": "done"},
        ]
    ) as fake:
        s = await open_session(client, fake, work)
        assert (await s.prompt("first", timeout=90)).text == "one"
        r = await s.configure(model="claude-other-model", permission_mode="default")
        assert r.how == "live"
        turn = await s.send("write it")
        req = (await until(s, 0, lambda e: e.type == "permission.requested", timeout=90))[-1]
        assert "asked.txt" in str(req.data.metadata)
        await s.reply_permission(req.data.permission_id, "once")
        await until(s, req.sequence, ended(turn), timeout=90)
        assert fake.main_requests()[-1]["model"] == "claude-other-model"
        assert (work / "asked.txt").exists()


async def test_fork_native_and_by_replay(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM(
        [{"text": "A"}, {"text": "B"}, {"text": "whole"}, {"text": "early"}, {"text": "source"}]
    ) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        a = await s.prompt("alpha", timeout=90)
        first_boundary = (await until(s, 0, ended(a.turn_id)))[-1].sequence
        await s.prompt("beta", timeout=90)
        whole = await s.fork()
        assert whole.info.fork == "native"  # type: ignore[union-attr]
        assert (await whole.prompt("gamma", timeout=90)).text == "whole"
        sent = messages(fake.main_requests()[-1])
        assert "alpha" in sent and "beta" in sent and "gamma" in sent
        early = await s.fork(at_sequence=first_boundary)
        assert early.info.fork == "replay"  # type: ignore[union-attr]
        assert (await early.prompt("delta", timeout=90)).text == "early"
        sent = messages(fake.main_requests()[-1])
        assert "alpha" in sent and "delta" in sent and "beta" not in sent
        assert (await s.prompt("epsilon", timeout=90)).text == "source"
        sent = messages(fake.main_requests()[-1])
        assert "beta" in sent and "gamma" not in sent and "delta" not in sent, "the source goes on unaffected"


async def test_configure_bypass_no_longer_asks(client: SandboxAgent, tmp_path: Path) -> None:
    work = tmp_path / "w"
    async with FakeLLM(
        [{"tool": "Bash", "input": {"command": "echo hi > free.txt", "description": "write"}}, {"text": "done"}]
    ) as fake:
        s = await open_session(client, fake, work, mode="default")
        await s.configure(permission_mode="bypass")
        r = await s.prompt("write it", timeout=90)
        events = await until(s, 0, ended(r.turn_id))
        assert r.text == "done" and (work / "free.txt").exists()
        assert not [e for e in events if e.type == "permission.requested"]
