"""Session control with the real `opencode serve` against the fake Chat Completions API: steer (prompt_async
while busy), queue, configure (PATCH session permission, the prompt's model and agent), fork (its fork endpoint)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox_agent.client import SandboxAgent, Session
from sandbox_agent.install import Installer
from sandbox_agent.rpc.errors import RpcError
from sandbox_agent.testing import FakeLLM

from .agent_helpers import ended, until

pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]


@pytest.fixture(scope="module")
def opencode_installed() -> None:
    asyncio.run(Installer().install("opencode"))


@pytest.fixture
async def client(opencode_installed: None, tmp_path: Path) -> AsyncIterator[SandboxAgent]:
    async with await SandboxAgent.start(state_dir=str(tmp_path / "state")) as c:
        yield c


async def open_session(client: SandboxAgent, fake: FakeLLM, work: Path, mode: str = "bypass") -> Session:
    work.mkdir(exist_ok=True)
    env = {
        "OPENAI_BASE_URL": fake.url + "/v1",
        "OPENAI_API_KEY": "sk-fake-test",
        "SANDBOX_AGENT_MODELS": "other-model",
    }
    return await client.create_session("opencode", cwd=str(work), model="fake-model", permission_mode=mode, env=env)


def bash(command: str) -> dict[str, Any]:
    return {"tool": "bash", "input": {"command": command, "description": "run it"}}


def chat(request: dict) -> str:  # type: ignore[type-arg]
    return str([m for m in request["body"]["messages"] if m["role"] != "system"])


async def test_steer_joins_the_running_turn(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([bash("sleep 2; echo slept"), {"echo": True}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        turn = await s.send("run the slow thing")
        await until(s, 0, lambda e: e.type == "item.started" and e.data.item.kind == "command", timeout=90)
        r = await s.deliver("also update the tests", delivery="steer")
        assert r.outcome == "steered" and r.native is True and r.turn_id == turn
        events = await until(s, 0, ended(turn), timeout=90)
        assert sum(e.type == "turn.started" for e in events) == 1
        assert len(fake.main_requests()) == 2 and "also update the tests" in chat(fake.main_requests()[-1])


async def test_queue_runs_in_order(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "word " * 20, "chunk_delay_ms": 50}, *[{"echo": True}] * 3]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        await s.send("talk")
        a = await s.deliver("queued one", delivery="queue")
        b = await s.deliver("queued two", delivery="queue")
        c = await s.deliver("queued three", delivery="queue")
        events = await until(s, 0, ended(c.turn_id), timeout=120)
        assert [e.data.turn_id for e in events if e.type == "turn.started"][1:] == [a.turn_id, b.turn_id, c.turn_id]
        lasts = [str(r["body"]["messages"][-1]) for r in fake.main_requests()[1:]]
        assert "queued one" in lasts[0] and "queued two" in lasts[1] and "queued three" in lasts[2]


async def test_configure_permission_model_and_agent(client: SandboxAgent, tmp_path: Path) -> None:
    work = tmp_path / "w"
    async with FakeLLM([{"text": "one"}, bash("echo hi > asked.txt"), {"text": "done"}, {"text": "planned"}]) as fake:
        s = await open_session(client, fake, work)
        assert (await s.prompt("first", timeout=90)).text == "one"
        r = await s.configure(permission_mode="default", model="other-model")
        assert r.how == "live"
        turn = await s.send("write it")
        req = (await until(s, 0, lambda e: e.type == "permission.requested", timeout=90))[-1]
        await s.reply_permission(req.data.permission_id, "once")
        await until(s, req.sequence, ended(turn), timeout=90)
        assert (work / "asked.txt").exists()
        assert [q["model"] for q in fake.main_requests()][-2:] == ["other-model", "other-model"]
        r = await s.configure(agent_mode="plan")
        assert r.how == "next_turn" and r.agent_mode == "plan"
        assert (await s.prompt("plan it", timeout=90)).text == "planned"
        assert "plan" in str(fake.main_requests()[-1]["body"]["messages"][0]).lower()
        with pytest.raises(RpcError) as exc:
            await s.configure(model="nobody-serves-this")
        assert exc.value.kind == "not_supported" and "other-model" in exc.value.message
        with pytest.raises(RpcError) as exc:
            await s.configure(agent_mode="yolo")
        assert exc.value.kind == "unsupported_mode" and "build, plan" in exc.value.message


async def test_fork_carries_history_up_to_the_fork_point(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "A"}, {"text": "B"}, {"text": "C"}, {"text": "forked"}, {"text": "source"}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        await s.prompt("alpha", timeout=90)
        beta = await s.prompt("beta", timeout=90)
        boundary = (await until(s, 0, ended(beta.turn_id)))[-1].sequence
        await s.prompt("gamma", timeout=90)
        fork = await s.fork(at_sequence=boundary)
        assert fork.info.fork == "native"  # type: ignore[union-attr]
        assert (await fork.prompt("delta", timeout=90)).text == "forked"
        sent = chat(fake.main_requests()[-1])
        assert "alpha" in sent and "beta" in sent and "delta" in sent and "gamma" not in sent
        assert (await s.prompt("epsilon", timeout=90)).text == "source"
        sent = chat(fake.main_requests()[-1])
        assert "gamma" in sent and "delta" not in sent, "the source goes on unaffected"


async def test_configure_bypass_no_longer_asks(client: SandboxAgent, tmp_path: Path) -> None:
    work = tmp_path / "w"
    async with FakeLLM([bash("echo hi > free.txt"), {"text": "done"}]) as fake:
        s = await open_session(client, fake, work, mode="default")
        await s.configure(permission_mode="bypass")
        r = await s.prompt("write it", timeout=90)
        events = await until(s, 0, ended(r.turn_id))
        assert r.text == "done" and (work / "free.txt").exists()
        assert not [e for e in events if e.type == "permission.requested"]
