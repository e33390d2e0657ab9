"""Each real agent moves to a replacement sandbox: two turns in daemon A, kill -9 of A and its state dir deleted,
daemon B (new state dir, same store) lists the session with every event, resumes it, and the fake model's third
request holds turns 1-2 — natively restored from a snapshot (claude, codex) or primed by a replay (opencode, amp)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from sandbox_agent.client import SandboxAgent
from sandbox_agent.install import Installer
from sandbox_agent.testing import FakeLLM
from tests.pg_helpers import pg, store_url  # noqa: F401 - fixtures
from sandbox_agent.store.replay import HEADER as REPLAY_HEADER
from tests.test_store import all_events, wait_shipped

pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]


def _env(agent: str, fake: FakeLLM) -> dict[str, str]:
    if agent == "claude":
        return {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-test"}
    if agent == "amp":
        return {"AMP_URL": fake.url, "AMP_API_KEY": "sk-fake-test"}
    return {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake-test"}


async def first_after(client: SandboxAgent, session_id: str, offset: int, type_: str) -> dict:
    """The first event of a type after `offset`, waiting for it to be committed (resume returns before that)."""
    for _ in range(200):
        found = [e for e in (await all_events(client, session_id))[offset:] if e["type"] == type_]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {type_} after sequence {offset}")


# every agent's native state is snapshotted: Claude's project JSONL, Codex's rollout, Amp's thread file, OpenCode's
# session in `opencode export` format (loaded with `opencode import`)
EXPECTED = {"claude": "native", "codex": "native", "opencode": "native", "amp": "native"}


@pytest.mark.parametrize("agent", ["claude", "codex", "opencode", "amp"])
async def test_agent_continues_in_a_new_sandbox(agent: str, server_factory, tmp_path: Path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    await asyncio.to_thread(lambda: asyncio.run(Installer().install(agent)))
    work = tmp_path / "work"
    work.mkdir()
    state_a = tmp_path / "state_a"
    options: dict[str, Any] = {"cwd": str(work), "permission_mode": "bypass"}
    if agent in ("codex", "opencode"):
        options["model"] = "fake-model"
    async with FakeLLM([{"text": "noted kiwi"}, {"text": "noted mango"}, {"echo": True}]) as fake:
        env = _env(agent, fake)
        srv_a = server_factory(state_dir=state_a, extra=["--store", store_url])
        client = await SandboxAgent.connect(srv_a.url, srv_a.token, reconnect=False)
        s = await client.create_session(agent, session_id=f"ses_move_{agent}", env=env, **options)
        assert (await s.prompt("please remember the word kiwi", timeout=120)).text == "noted kiwi"
        assert (await s.prompt("and also the word mango", timeout=120)).text == "noted mango"
        wait_shipped(srv_a, timeout=30)
        before = await all_events(client, s.id)
        await client.close()
        srv_a.kill9()
        shutil.rmtree(state_a)

        srv_b = server_factory(state_dir=tmp_path / "state_b", extra=["--store", store_url])
        c2 = await SandboxAgent.connect(srv_b.url, srv_b.token, reconnect=False)
        listed = {x.session_id: x for x in await c2.list_sessions()}
        assert listed[s.id].status == "ended" and listed[s.id].event_count == len(before)
        events = await all_events(c2, s.id)
        assert events[: len(before)] == before, "daemon B serves every event of daemon A"

        await c2.resume_session(s.id, env=env)
        started = await first_after(c2, s.id, len(before), "session.started")
        how = started["data"]["metadata"]["restore"]
        print(f"{agent}: restored by {how}")
        assert started["data"]["resumed"] is True and started["data"]["restored"] is (how == "native")
        assert how == EXPECTED[agent]
        third = await c2.session(s.id).prompt("which words did I ask you to remember?", timeout=120)
        assert third.stop_reason == "end_turn"
        request = str(fake.main_requests()[-1]["body"])
        assert "kiwi" in request and "mango" in request, f"{agent} ({how}): the model saw turns 1-2"
        assert (REPLAY_HEADER in request) is (how == "replay"), "native: the history is the agent's own, no replay"
        after = await all_events(c2, s.id)
        assert [e["sequence"] for e in after] == list(range(1, len(after) + 1))
        await c2.close()
