"""Session control costs per agent: queue hand-off (running turn ends -> queued turn starts, as a client sees it)
and the steer call (native: the agent took it; fallback: interrupt, wait, send).

    .venv/bin/python benchmarks/session_control.py [N] [agent ...]   (default: 5 rounds, every installed agent)

Real agents run against the scripted fake providers; the mock needs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from typing import Any

from sandbox_agent.client import SandboxAgent, Session
from sandbox_agent.install import Installer
from sandbox_agent.testing import FakeLLM


def env_for(agent: str, fake: FakeLLM) -> dict[str, str]:
    if agent == "claude":
        return {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake"}
    if agent == "amp":
        return {"AMP_URL": fake.url, "AMP_API_KEY": "sk-fake"}
    return {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake"}


async def arrivals(session: Session, offset: int, stop_turn: str, seen: dict[str, float]) -> None:
    """Record when (perf_counter) each turn.started / turn.ended arrives, until `stop_turn` ends."""
    async with contextlib.aclosing(session.events(offset)) as events:
        async for e in events:
            if e.type in ("turn.started", "turn.ended"):
                seen[f"{e.type}:{e.data.turn_id}"] = time.perf_counter()  # type: ignore[union-attr]
                if e.type == "turn.ended" and e.data.turn_id == stop_turn:  # type: ignore[union-attr]
                    return


async def one_agent(agent: str, rounds: int) -> dict[str, Any]:
    async with FakeLLM([]) as fake, await SandboxAgent.start(state_dir=tempfile.mkdtemp()) as client:
        work = tempfile.mkdtemp()
        model = "fake-model" if agent in ("codex", "opencode") else None
        env = env_for(agent, fake)
        s = await client.create_session(agent, cwd=work, model=model, permission_mode="bypass", env=env)
        slow = "slow 0.5" if agent == "mock" else "talk"
        handoffs: list[float] = []
        steers: list[float] = []
        native = None
        for _ in range(rounds):
            fake.enqueue({"text": "word " * 10, "chunk_delay_ms": 40}, {"text": "ok"})
            offset = (await s.get()).event_count
            first = await s.send(slow)
            queued = await s.deliver("queued", delivery="queue")
            seen: dict[str, float] = {}
            await asyncio.wait_for(arrivals(s, offset, queued.turn_id, seen), 120)
            handoffs.append(seen[f"turn.started:{queued.turn_id}"] - seen[f"turn.ended:{first}"])
        for _ in range(rounds):
            fake.enqueue({"text": "word " * 60, "chunk_delay_ms": 50}, {"echo": True}, {"text": "spare"})
            offset = (await s.get()).event_count
            first = await s.send("slow 3" if agent == "mock" else "talk")
            for _ in range(400):
                if agent == "mock" or (len(fake.main_requests()) and (await s.get()).status == "running"):
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
            t0 = time.perf_counter()
            r = await s.deliver("steer now", delivery="steer")
            steers.append(time.perf_counter() - t0)
            native = r.native
            seen = {}
            await asyncio.wait_for(arrivals(s, offset, r.turn_id, seen), 120)
            fake.queue.replies = fake.queue.replies[: fake.queue.used]  # drop what the round did not use
    return {
        "agent": agent,
        "queue_handoff_ms": statistics.median(handoffs) * 1000,
        "steer_call_ms": statistics.median(steers) * 1000,
        "steer": "native" if native else "fallback",
    }


async def main() -> None:
    args = sys.argv[1:]
    rounds = int(args.pop(0)) if args and args[0].isdigit() else 5
    installer = Installer()
    agents = args or ["mock"] + [a for a in ("claude", "codex", "opencode", "amp") if installer.installed(a)]
    print(f"{'agent':10} {'steer':9} {'queue hand-off (median ms)':>28} {'steer call (median ms)':>24}  [N={rounds}]")
    for agent in agents:
        r = await one_agent(agent, rounds)
        print(f"{r['agent']:10} {r['steer']:9} {r['queue_handoff_ms']:28.1f} {r['steer_call_ms']:24.1f}")


if __name__ == "__main__":
    asyncio.run(main())
