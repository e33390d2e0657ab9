"""Session control with the real `codex app-server` against the fake Responses API: steer (native turn/steer),
queue, configure (turn overrides), fork (thread/fork)."""

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
def codex_installed() -> None:
    asyncio.run(Installer().install("codex"))


@pytest.fixture
async def client(codex_installed: None, tmp_path: Path) -> AsyncIterator[SandboxAgent]:
    async with await SandboxAgent.start(state_dir=str(tmp_path / "state")) as c:
        yield c


async def open_session(client: SandboxAgent, fake: FakeLLM, work: Path, mode: str = "bypass") -> Session:
    work.mkdir(exist_ok=True)
    env = {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake-test"}
    return await client.create_session("codex", cwd=str(work), model="fake-model", permission_mode=mode, env=env)


def inputs(request: dict) -> str:  # type: ignore[type-arg]
    return str(request["body"]["input"])


async def test_steer_reaches_the_running_turn_natively(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM(
        [{"tool": "exec_command", "input": {"cmd": "sleep 2; echo slept"}}, {"echo": True}]
    ) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        turn = await s.send("run the slow thing")
        await until(s, 0, lambda e: e.type == "item.started" and e.data.item.kind == "command")
        r = await s.deliver("also update the tests", delivery="steer")
        assert r.outcome == "steered" and r.native is True and r.turn_id == turn
        events = await until(s, 0, ended(turn), timeout=90)
        assert sum(e.type == "turn.started" for e in events) == 1
        steered = next(e for e in events if e.type == "message.steered")
        assert steered.data.native and steered.data.fallback is None
        last = fake.main_requests()[-1]
        assert len(fake.main_requests()) == 2 and "also update the tests" in inputs(last)
        assert "slept" in inputs(last), "the steer rides on the same turn's next model request"


async def test_queued_messages_run_next_in_order(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM(
        [{"text": "word " * 40, "chunk_delay_ms": 50}, {"echo": True}, {"echo": True}, {"echo": True}]
    ) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        await s.send("talk a while")
        sent = [await s.deliver(f"queued {i}", delivery="queue") for i in (1, 2, 3)]
        assert [r.outcome for r in sent] == ["queued"] * 3
        await until(s, 0, ended(sent[-1].turn_id), timeout=120)
        seen = [str(r["body"]["input"][-1]) for r in fake.main_requests()[1:]]
        assert ["queued 1" in seen[0], "queued 2" in seen[1], "queued 3" in seen[2]] == [True, True, True]


async def test_configure_model_and_permission_mode(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM(
        [
            {"text": "one"},
            {"text": "two"},
            {"tool": "exec_command", "input": {"cmd": "echo hi > asked.txt"}},
            {"text": "done"},
        ]
    ) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        assert (await s.prompt("first", timeout=90)).text == "one"
        r = await s.configure(model="other-model")
        assert r.how == "next_turn" and r.model == "other-model"
        assert (await s.prompt("second", timeout=90)).text == "two"
        assert [q["model"] for q in fake.main_requests()] == ["fake-model", "other-model"]
        await s.configure(permission_mode="default")
        turn = await s.send("write a file")
        req = (await until(s, 0, lambda e: e.type == "permission.requested", timeout=90))[-1]
        assert "asked.txt" in str(req.data.metadata)
        await s.reply_permission(req.data.permission_id, "once")
        await until(s, req.sequence, ended(turn), timeout=90)
        info = await s.get()
        assert (info.model, info.permission_mode) == ("other-model", "default")


async def test_fork_carries_history_up_to_the_fork_point(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "A"}, {"text": "B"}, {"text": "C"}, {"text": "forked"}, {"text": "source"}]) as fake:
        s = await open_session(client, fake, tmp_path / "w")
        await s.prompt("alpha", timeout=90)
        beta = await s.prompt("beta", timeout=90)
        boundary = (await until(s, 0, ended(beta.turn_id)))[-1].sequence
        await s.prompt("gamma", timeout=90)
        fork = await s.fork(at_sequence=boundary)
        assert fork.info is not None and fork.info.fork == "native"  # type: ignore[attr-defined]
        assert (await fork.prompt("delta", timeout=90)).text == "forked"
        sent = inputs(fake.main_requests()[-1])
        assert "alpha" in sent and "beta" in sent and "delta" in sent and "gamma" not in sent
        started = (await until(fork, 0, lambda e: e.type == "session.started"))[0]
        assert started.data.forked_from == s.id and started.data.at_sequence == boundary
        assert (await s.prompt("epsilon", timeout=90)).text == "source"
        sent = inputs(fake.main_requests()[-1])
        assert "gamma" in sent and "delta" not in sent, "the source goes on unaffected"


async def test_configure_bypass_no_longer_asks(client: SandboxAgent, tmp_path: Path) -> None:
    work = tmp_path / "w"
    async with FakeLLM([{"tool": "exec_command", "input": {"cmd": "echo hi > free.txt"}}, {"text": "done"}]) as fake:
        s = await open_session(client, fake, work, mode="default")
        await s.configure(permission_mode="bypass")
        r = await s.prompt("write it", timeout=90)
        events = await until(s, 0, ended(r.turn_id))
        assert r.text == "done" and (work / "free.txt").exists()
        assert not [e for e in events if e.type == "permission.requested"]
