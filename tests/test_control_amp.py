"""Session control with the pinned Amp build against the fake provider: steer falls back to interrupt-then-send
(visibly), queue, configure the permission mode (a restart on the same thread), fork by replay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox_agent.client import SandboxAgent, Session
from sandbox_agent.install import Installer
from sandbox_agent.rpc.errors import RpcError
from sandbox_agent.testing import FakeLLM

from .agent_helpers import ended, until

pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]


@pytest.fixture(scope="module")
def amp_installed() -> None:
    asyncio.run(Installer().install("amp"))


@pytest.fixture
async def client(amp_installed: None, tmp_path: Path) -> AsyncIterator[SandboxAgent]:
    async with await SandboxAgent.start(state_dir=str(tmp_path / "state")) as c:
        yield c


async def open_session(client: SandboxAgent, fake: FakeLLM, work: Path, mode: str = "bypass") -> Session:
    work.mkdir(exist_ok=True)
    env = {"AMP_URL": fake.url, "AMP_API_KEY": "sk-fake-test"}
    return await client.create_session("amp", cwd=str(work), permission_mode=mode, env=env)


def messages(request: dict) -> str:  # type: ignore[type-arg]
    return str(request["body"]["messages"])


async def test_steer_falls_back_to_interrupt_then_send(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "word " * 200, "chunk_delay_ms": 100}, {"echo": True}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        turn = await s.send("talk a long time")
        for _ in range(200):  # the model request is under way
            if fake.main_requests():
                break
            await asyncio.sleep(0.05)
        r = await s.deliver("stop, use the other API", delivery="steer")
        assert r.outcome == "steered" and r.native is False and r.turn_id != turn
        events = await until(s, 0, ended(r.turn_id), timeout=120)
        steered = next(e for e in events if e.type == "message.steered")
        assert steered.data.fallback == "interrupt_then_send" and steered.data.interrupted_turn_id == turn
        assert "interrupted" in (steered.data.note or "")
        first_end = next(e for e in events if e.type == "turn.ended" and e.data.turn_id == turn)
        assert first_end.data.stop_reason == "interrupted"
        assert "stop, use the other API" in messages(fake.main_requests()[-1])


async def test_queue_runs_in_order(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "first", "initial_delay_ms": 1500}, *[{"echo": True}] * 3]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        await s.send("start")
        a = await s.deliver("queued one", delivery="queue")
        b = await s.deliver("queued two", delivery="queue")
        c = await s.deliver("queued three", delivery="queue")
        events = await until(s, 0, ended(c.turn_id), timeout=120)
        assert [e.data.turn_id for e in events if e.type == "turn.started"][1:] == [a.turn_id, b.turn_id, c.turn_id]
        lasts = [str(r["body"]["messages"][-1]) for r in fake.main_requests()[1:]]
        assert "queued one" in lasts[0] and "queued two" in lasts[1] and "queued three" in lasts[2]


async def test_configure_permission_mode_restarts_on_the_same_thread(client: SandboxAgent, tmp_path: Path) -> None:
    work = tmp_path / "w"
    async with FakeLLM(
        [{"text": "one"}, {"tool": "Bash", "input": {"cmd": "echo hi > asked.txt"}}, {"echo": True}]
    ) as fake:
        s = await open_session(client, fake, work, mode="bypass")
        assert (await s.prompt("remember kiwi", timeout=90)).text == "one"
        r = await s.configure(permission_mode="default")
        assert r.how == "restart" and r.permission_mode == "default"
        turn = await s.send("write it")
        req = (await until(s, 0, lambda e: e.type == "permission.requested", timeout=90))[-1]
        await s.reply_permission(req.data.permission_id, "once")
        await until(s, req.sequence, ended(turn), timeout=90)
        assert (work / "asked.txt").exists()
        assert "remember kiwi" in messages(fake.main_requests()[-1]), "the same thread went on"
        with pytest.raises(RpcError) as exc:
            await s.configure(model="other")
        assert exc.value.kind == "not_supported"


async def test_fork_by_replay(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "A"}, {"text": "B"}, {"text": "forked"}, {"text": "source"}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        a = await s.prompt("alpha", timeout=90)
        boundary = (await until(s, 0, ended(a.turn_id)))[-1].sequence
        await s.prompt("beta", timeout=90)
        fork = await s.fork(at_sequence=boundary)
        assert fork.info.fork == "replay"  # type: ignore[union-attr]
        assert (await fork.prompt("gamma", timeout=90)).text == "forked"
        sent = messages(fake.main_requests()[-1])
        assert "alpha" in sent and "gamma" in sent and "beta" not in sent
        assert (await s.prompt("delta", timeout=90)).text == "source"
        sent = messages(fake.main_requests()[-1])
        assert "beta" in sent and "gamma" not in sent
