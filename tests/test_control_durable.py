"""A message queued behind a running turn survives kill -9 of the daemon and runs after resume, with every real
agent (against the fake providers) and with the mock; agents/list says per agent whether steer is native."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sandbox_agent.client import SandboxAgent, Session
from sandbox_agent.install import Installer
from sandbox_agent.testing import FakeLLM

from .agent_helpers import ended, until

pytestmark = [pytest.mark.anyio]

SLOW = {"text": "word " * 300, "chunk_delay_ms": 100}


def env_for(agent: str, fake: FakeLLM) -> dict[str, str]:
    if agent == "claude":
        return {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-test"}
    if agent == "amp":
        return {"AMP_URL": fake.url, "AMP_API_KEY": "sk-fake-test"}
    return {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake-test"}


@pytest.mark.real_agent
@pytest.mark.parametrize("agent", ["claude", "codex", "opencode", "amp"])
async def test_queued_message_survives_kill_9(server_factory, tmp_path: Path, agent: str) -> None:  # type: ignore[no-untyped-def]
    await Installer().install(agent)
    state = tmp_path / "state"
    work = tmp_path / "w"
    work.mkdir()
    async with FakeLLM([SLOW, {"echo": True}]) as fake:
        env = env_for(agent, fake)
        srv = server_factory(state_dir=state)
        client = await SandboxAgent.connect(srv.url, srv.token, reconnect=False)
        model = None if agent in ("claude", "amp") else "fake-model"
        s = await client.create_session(
            agent, session_id="q", cwd=str(work), model=model, permission_mode="bypass", env=env
        )
        await s.send("talk for a long time")
        for _ in range(400):  # the slow reply is streaming
            if fake.main_requests():
                break
            await asyncio.sleep(0.05)
        queued = await s.deliver("after the crash", delivery="queue")
        assert queued.outcome == "queued"
        await until(s, 0, lambda e: e.type == "message.queued")
        srv.kill9()
        await client.close()

        srv2 = server_factory(state_dir=state)
        c2 = await SandboxAgent.connect(srv2.url, srv2.token)
        assert [m.message_id for m in await Session(c2, "q", None).queue()] == [queued.message_id]
        resumed = await c2.resume_session("q", env)
        events = await until(resumed, 0, ended(queued.turn_id), timeout=120)
        assert events[-1].data.stop_reason == "end_turn"
        assert "after the crash" in str(fake.main_requests()[-1]["body"])
        assert await resumed.queue() == []
        await c2.close()


async def test_agents_list_reports_control(stdio_client: SandboxAgent) -> None:
    agents = {a.id: a for a in await stdio_client.list_agents()}
    steer = {k: a.control.steer for k, a in agents.items() if a.control is not None}
    assert steer["mock"] == "native" and steer["codex"] == "native" and steer["claude"] == "native"
    assert steer["opencode"] == "native" and steer["amp"] == "fallback"
    assert agents["opencode"].modes == ["build", "plan"] and agents["mock"].modes == ["chat", "plan"]
    assert agents["amp"].control.configure_model == "no"  # type: ignore[union-attr]
