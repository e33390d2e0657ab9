"""What the daemon adds to a turn of an ACP agent (Gemini CLI, pi): the same warm one-reply turn (a) straight over
ACP with the official library (spawned with the driver's own launch: argv, env, auth) and (b) through
`sandbox-agent server` over WebSocket; and (c) what `sandbox-agent acp` adds to a mock turn compared with
`sessions/prompt` over stdio JSON-RPC.

    python benchmarks/acp_overhead.py [--turns 20] [--agents gemini,pi]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import acp  # noqa: E402
from _daemon import DaemonUnderTest  # noqa: E402
from acp import schema as S  # noqa: E402

from sandbox_agent.agents.base import SessionConfig  # noqa: E402
from sandbox_agent.agents.registry import default_registry  # noqa: E402
from sandbox_agent.install import Installer  # noqa: E402
from sandbox_agent.testing import FakeLLM, Reply  # noqa: E402

REPLY = Reply(text="The answer is forty-two, as always.")


def session_env(agent: str, fake: FakeLLM) -> dict[str, str]:
    if agent == "gemini":
        return {"GOOGLE_GEMINI_BASE_URL": fake.url, "GEMINI_API_KEY": "fake"}
    return {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake"}


class Quiet:
    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        pass

    async def request_permission(self, **kwargs: Any) -> Any:
        raise acp.RequestError.method_not_found("session/request_permission")


async def direct(agent: str, command: list[str], fake: FakeLLM, turns: int) -> list[float]:
    driver: Any = default_registry().get(agent)
    work = tempfile.mkdtemp()
    config = SessionConfig(
        session_id="bench", agent=agent, cwd=work, permission_mode="bypass", env=session_env(agent, fake),
        state_dir=Path(tempfile.mkdtemp()),
    )
    launch = driver.launch(command, config)
    times = []
    async with acp.spawn_agent_process(Quiet(), launch.argv[0], *launch.argv[1:], env=launch.env, cwd=work) as (
        conn,
        _proc,
    ):
        await conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
        if launch.auth_method:
            await conn.authenticate(method_id=launch.auth_method)
        sid = (await conn.new_session(cwd=work, mcp_servers=[])).session_id
        for n in range(turns + 2):
            fake.enqueue(REPLY)
            t0 = time.perf_counter()
            await conn.prompt(session_id=sid, prompt=[S.TextContentBlock(type="text", text=f"question {n}")])
            if n >= 2:
                times.append(time.perf_counter() - t0)
    return times


async def through_daemon(agent: str, fake: FakeLLM, turns: int) -> list[float]:
    async with DaemonUnderTest() as daemon:
        env = session_env(agent, fake)
        params = {"agent": agent, "cwd": tempfile.mkdtemp(), "permission_mode": "bypass", "env": env}
        sid = (await daemon.call("sessions/create", params))["session_id"]
        return await daemon.timed_turns(sid, fake, REPLY, turns)


async def mock_over_acp(turns: int) -> list[float]:
    times = []
    command = [sys.executable, "-m", "sandbox_agent", "acp", "--ephemeral", "--log-level", "warning"]
    async with acp.spawn_agent_process(Quiet(), command[0], *command[1:], cwd=ROOT) as (conn, _proc):
        await conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
        sid = (await conn.new_session(cwd=tempfile.mkdtemp(), mcp_servers=[])).session_id
        for n in range(turns + 2):
            t0 = time.perf_counter()
            await conn.prompt(session_id=sid, prompt=[S.TextContentBlock(type="text", text=f"hello {n}")])
            if n >= 2:
                times.append(time.perf_counter() - t0)
    return times


async def mock_over_stdio(turns: int) -> list[float]:
    from sandbox_agent.client import SandboxAgent

    times = []
    async with await SandboxAgent.start(ephemeral=True) as client:
        s = await client.create_session("mock", cwd=tempfile.mkdtemp())
        for n in range(turns + 2):
            t0 = time.perf_counter()
            await s.prompt(f"hello {n}")
            if n >= 2:
                times.append(time.perf_counter() - t0)
    return times


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


async def main(turns: int, agents: list[str]) -> None:
    print(f"warm one-reply turns, median of {turns} (after 2 warm-up turns), fake providers")
    for agent in agents:
        installed = await Installer().install(agent)
        async with FakeLLM() as fake:
            a = await direct(agent, installed.command, fake, turns)
            b = await through_daemon(agent, fake, turns)
        print(f"  {agent:7s} (a) ACP directly {ms(a):7.1f} ms   (b) through the daemon {ms(b):7.1f} ms"
              f"   added {ms(b) - ms(a):6.1f} ms")
    c = await mock_over_stdio(turns)
    d = await mock_over_acp(turns)
    print(f"  mock    (c) sessions/prompt over stdio {ms(c):6.1f} ms   (d) sandbox-agent acp {ms(d):6.1f} ms"
          f"   added {ms(d) - ms(c):6.1f} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--agents", default="gemini,pi")
    args = ap.parse_args()
    asyncio.run(main(args.turns, [a for a in args.agents.split(",") if a]))
