"""Exactly one *.resolved per request for every real agent (FakeLLM), whoever answers first; HITL timeout on one."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox_agent.client import AlreadyResolved, SandboxAgent, Session
from sandbox_agent.install import Installer
from sandbox_agent.testing import FakeLLM

from .agent_helpers import ended, until

pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]

# agent -> (the tool call that needs approval, session options)
AGENTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "claude": ({"tool": "Bash", "input": {"command": "echo hi > out.txt", "description": "write"}}, {}),
    "codex": ({"tool": "exec_command", "input": {"cmd": "echo hi > out.txt"}}, {"model": "fake-model"}),
    "opencode": (
        {"tool": "bash", "input": {"command": "echo hi > out.txt", "description": "run it"}},
        {"model": "fake-model"},
    ),
    "amp": ({"tool": "Bash", "input": {"cmd": "echo hi > out.txt"}}, {}),
}


def env_for(agent: str, fake: FakeLLM) -> dict[str, str]:
    if agent == "claude":
        return {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-test"}
    if agent == "amp":
        return {"AMP_URL": fake.url, "AMP_API_KEY": "sk-fake-test"}
    return {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake-test"}


@pytest.fixture
async def client() -> AsyncIterator[SandboxAgent]:
    async with await SandboxAgent.start(ephemeral=True) as c:
        yield c


async def open_session(client: SandboxAgent, agent: str, fake: FakeLLM, work: Path, **extra: Any) -> Session:
    await asyncio.to_thread(lambda: asyncio.run(Installer().install(agent)))
    work.mkdir(exist_ok=True)
    options = {**AGENTS[agent][1], **extra}
    return await client.create_session(
        agent, cwd=str(work), permission_mode="default", env=env_for(agent, fake), **options
    )


@pytest.mark.parametrize("agent", sorted(AGENTS))
async def test_two_answers_one_resolution(client: SandboxAgent, tmp_path: Path, agent: str) -> None:
    async with FakeLLM([AGENTS[agent][0], {"echo": True}]) as fake:
        s = await open_session(client, agent, fake, tmp_path / "w")
        turn = await s.send("write out.txt")
        req = (await until(s, 0, lambda e: e.type == "permission.requested", timeout=90))[-1]
        pid = req.data.permission_id  # type: ignore[union-attr]
        results = await asyncio.gather(
            s.reply_permission(pid, "once"), s.reply_permission(pid, "reject", "too late"), return_exceptions=True
        )
        assert [type(r) for r in results].count(AlreadyResolved) == 1, results
        events = await until(s, 0, ended(turn), timeout=90)
        await asyncio.sleep(0.5)  # an agent's own echo of the reply (OpenCode's permission.replied) comes late
        events, _, _ = await client.read_events(s.id, 0, 1000)
        counts = Counter(e.data.permission_id for e in events if e.type == "permission.resolved")  # type: ignore[union-attr]
        requested = Counter(e.data.permission_id for e in events if e.type == "permission.requested")  # type: ignore[union-attr]
        assert counts == requested and set(counts.values()) == {1}, (counts, requested)
        assert (tmp_path / "w" / "out.txt").read_text() == "hi\n"


async def test_hitl_timeout_with_claude(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([AGENTS["claude"][0], {"echo": True}]) as fake:
        s = await open_session(client, "claude", fake, tmp_path / "w", hitl_timeout_s=1)
        reply = await s.prompt("write out.txt", timeout=90)
        events, _, _ = await client.read_events(s.id, 0, 1000)
        resolved = [e for e in events if e.type == "permission.resolved"]
        assert len(resolved) == 1 and resolved[0].data.reason == "timeout"  # type: ignore[union-attr]
        assert reply.stop_reason == "end_turn"
        assert not (tmp_path / "w" / "out.txt").exists()
        # the model saw why: the rejection message is in the tool result of its next request
        assert "Nobody answered this request within 1 seconds" in str(fake.main_requests()[-1]["body"]["messages"])
