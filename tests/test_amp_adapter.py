"""Amp through the daemon: the pinned JS build `@sourcegraph/amp@0.0.1767830505-ga62310` (installed by our
installer) runs its agent loop locally against the fake Anthropic provider under $AMP_URL."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox_agent.client import SandboxAgent, Session
from sandbox_agent.install import Installer
from sandbox_agent.testing import FakeLLM

from .agent_helpers import completed, ended, pids_where, until

pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]


@pytest.fixture(scope="module")
def amp_installed() -> None:
    asyncio.run(Installer().install("amp"))


@pytest.fixture
async def client(amp_installed: None) -> AsyncIterator[SandboxAgent]:
    async with await SandboxAgent.start(ephemeral=True) as c:
        yield c


async def open_session(
    client: SandboxAgent, fake: FakeLLM, work: Path, mode: str = "default", extra: dict[str, str] | None = None
) -> Session:
    work.mkdir(exist_ok=True)
    env = {"AMP_URL": fake.url, "AMP_API_KEY": "sk-fake-test", **(extra or {})}
    return await client.create_session("amp", cwd=str(work), permission_mode=mode, env=env)


async def test_tool_turn_and_multi_turn(client: SandboxAgent, tmp_path: Path) -> None:
    work = tmp_path / "w"
    async with FakeLLM(
        [{"tool": "Bash", "input": {"cmd": "echo hi > f.txt"}}, {"text": "done"}, {"echo": True}]
    ) as fake:
        s = await open_session(client, fake, work, mode="bypass")
        started = time.monotonic()
        r1 = await s.prompt("write f", timeout=90)
        first_turn = time.monotonic() - started
        assert r1.text == "done" and (work / "f.txt").read_text() == "hi\n"
        events = await until(s, 0, ended(r1.turn_id))
        cmd = completed(events, "command")[0]
        assert cmd.content[0].command == "echo hi > f.txt" and cmd.content[0].exit_code == 0
        assert all(e.synthetic for e in events if e.type == "item.delta")
        started = time.monotonic()
        r2 = await s.prompt("second message", timeout=90)
        second_turn = time.monotonic() - started
        assert "second message" in r2.text
        info = await s.get()
        assert info.native_session_id and info.native_session_id.startswith("T-")
        print(f"\namp: first turn (spawn included) {first_turn * 1000:.0f} ms, warm turn {second_turn * 1000:.0f} ms")


@pytest.mark.parametrize("reply", ["once", "reject", "reject_with_message"])
async def test_delegate_approvals(client: SandboxAgent, tmp_path: Path, reply: str) -> None:
    work = tmp_path / "w"
    async with FakeLLM([{"tool": "Bash", "input": {"cmd": "echo hi > f.txt"}}, {"echo": True}]) as fake:
        s = await open_session(client, fake, work)
        turn = await s.send("write f")
        req = (await until(s, 0, lambda e: e.type == "permission.requested"))[-1]
        assert req.data.action == "Bash" and req.data.metadata["input"] == {"cmd": "echo hi > f.txt"}
        message = "writes are frozen" if reply == "reject_with_message" else None
        await s.reply_permission(req.data.permission_id, "once" if reply == "once" else "reject", message)
        events = await until(s, req.sequence, ended(turn))
        assert (work / "f.txt").exists() == (reply == "once")
        model_saw = str(fake.main_requests()[-1]["body"]["messages"][-1])
        if reply == "once":
            assert completed(events, "command")[0].status == "completed"
        else:
            assert completed(events, "command")[0].status == "failed"
            assert (message or "rejected") in model_saw


async def test_no_reply_in_time_is_a_clear_rejection_and_amp_waits_past_10_s(
    client: SandboxAgent, tmp_path: Path
) -> None:
    work = tmp_path / "w"
    async with FakeLLM(
        [
            {"tool": "Bash", "input": {"cmd": "echo a > a.txt"}},
            {"echo": True},
            {"tool": "Bash", "input": {"cmd": "echo b > b.txt"}},
            {"text": "ok"},
        ]
    ) as fake:
        # our delegate gives up after the configured time: a clear reject, never a hang
        s = await open_session(client, fake, work, extra={"SANDBOX_AGENT_DELEGATE_TIMEOUT": "2"})
        turn = await s.send("write a")
        events = await until(s, 0, ended(turn), timeout=60)
        assert not (work / "a.txt").exists()
        assert "no decision arrived within 2 seconds" in str(fake.main_requests()[-1]["body"]["messages"][-1])
        assert any(e.type == "permission.resolved" and e.data.status == "reject" for e in events)
        # the pinned build itself has no delegate timeout: a decision after 12 s still counts
        turn2 = await s.send("write b")
        req = (await until(s, events[-1].sequence, lambda e: e.type == "permission.requested"))[-1]
        await asyncio.sleep(0)
    async with FakeLLM([{"tool": "Bash", "input": {"cmd": "echo c > c.txt"}}, {"text": "ok"}]) as fake2:
        s2 = await open_session(client, fake2, tmp_path / "w2")
        t2 = await s2.send("write c")
        req2 = (await until(s2, 0, lambda e: e.type == "permission.requested"))[-1]
        await asyncio.sleep(12)
        await s2.reply_permission(req2.data.permission_id, "once")
        await until(s2, req2.sequence, ended(t2), timeout=60)
        assert (tmp_path / "w2" / "c.txt").read_text() == "c\n"
    assert turn2 and req


async def test_interrupt_then_continue_the_thread(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"tool": "Bash", "input": {"cmd": "sleep 30"}}, {"text": "x"}, {"echo": True}]) as fake:
        s = await open_session(client, fake, tmp_path / "w", mode="bypass")
        turn = await s.send("remember papaya, then wait")
        await until(s, 0, lambda e: e.type == "item.started" and e.data.item.kind == "command")
        await asyncio.sleep(1.0)
        t0 = time.monotonic()
        assert await s.interrupt() is True
        events = await until(s, 0, ended(turn), timeout=30)
        assert events[-1].data.stop_reason == "interrupted" and time.monotonic() - t0 < 10
        assert (await s.get()).status == "idle"
        fake.queue.replies, fake.queue.used = [], 0
        fake.enqueue({"echo": True})
        r = await s.prompt("what fruit?", timeout=90)  # a new process continues the thread
        assert "what fruit?" in r.text
        assert "remember papaya" in str(fake.main_requests()[-1]["body"]["messages"])


async def test_thread_continues_after_the_process_is_killed(client: SandboxAgent, tmp_path: Path) -> None:
    async with FakeLLM([{"text": "noted"}, {"echo": True}]) as fake:
        s = await open_session(client, fake, tmp_path / "w", mode="bypass")
        await s.prompt("remember the number 31337", timeout=90)
        thread = (await s.get()).native_session_id
        pids = pids_where(lambda argv: any(b"@sourcegraph/amp" in a for a in argv) and b"--stream-json-input" in argv)
        assert pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        ended_ev = (await until(s, 0, lambda e: e.type == "session.ended"))[-1]
        assert ended_ev.data.reason == "error"
        r = await s.prompt("which number?", timeout=90)  # restarted with `threads continue`
        assert "which number?" in r.text
        assert (await s.get()).native_session_id == thread
        assert "remember the number 31337" in str(fake.main_requests()[-1]["body"]["messages"])
