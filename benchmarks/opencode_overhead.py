"""What the daemon adds to an OpenCode turn: the same warm one-reply turn (a) straight over `opencode serve`'s
HTTP API (prompt_async, then wait for session.idle on the event stream) and (b) through `sandbox-agent server`
over WebSocket, both against the fake Chat Completions provider.

    python benchmarks/opencode_overhead.py [--turns 20]
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

from _daemon import DaemonUnderTest  # noqa: E402

from sandbox_agent.agents.launch_env import opencode_launch  # noqa: E402
from sandbox_agent.agents.opencode.serve import OpenCodeServer  # noqa: E402
from sandbox_agent.install import Installer  # noqa: E402
from sandbox_agent.testing import FakeLLM, Reply  # noqa: E402

REPLY = Reply(text="The answer is forty-two, as always.")


class Idle:
    def __init__(self) -> None:
        self.fut: asyncio.Future[None] | None = None

    def on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "session.idle" and self.fut is not None and not self.fut.done():
            self.fut.set_result(None)

    def on_server_exit(self, code: int, stderr: str) -> None:
        pass


async def direct(command: list[str], version: str, fake: FakeLLM, turns: int) -> list[float]:
    home = Path(tempfile.mkdtemp())
    work = tempfile.mkdtemp()
    env = {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake"}
    launch = opencode_launch(env, home, "fake-model", "bypass", version)
    server = OpenCodeServer(command, launch.env, home)
    await server.start()
    sid = (await server.call("POST", "/session", work, {"title": "bench"}))["id"]
    idle = Idle()
    server.sessions[sid] = idle
    times = []
    for n in range(turns + 2):
        fake.enqueue(REPLY)
        idle.fut = asyncio.get_running_loop().create_future()
        t0 = time.perf_counter()
        await server.call("POST", f"/session/{sid}/prompt_async", work, {"parts": [{"type": "text", "text": f"q{n}"}]})
        await idle.fut
        if n >= 2:
            times.append(time.perf_counter() - t0)
    await server.stop()
    return times


async def through_daemon(fake: FakeLLM, turns: int) -> list[float]:
    env = {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake"}
    async with DaemonUnderTest() as daemon:
        params = {
            "agent": "opencode",
            "cwd": tempfile.mkdtemp(),
            "model": "fake-model",
            "permission_mode": "bypass",
            "env": env,
        }
        sid = (await daemon.call("sessions/create", params))["session_id"]
        return await daemon.timed_turns(sid, fake, REPLY, turns)


async def main(turns: int) -> None:
    installed = await Installer().install("opencode")
    async with FakeLLM() as fake:
        a = await direct(installed.command, installed.version, fake, turns)
        b = await through_daemon(fake, turns)
    ma, mb = statistics.median(a) * 1000, statistics.median(b) * 1000
    print(f"opencode warm one-reply turn, median of {turns} (after 2 warm-up turns), fake Chat Completions provider")
    print(f"  (a) opencode serve HTTP API directly {ma:7.1f} ms")
    print(f"  (b) through the daemon (WebSocket)   {mb:7.1f} ms")
    print(f"  added by the daemon                  {mb - ma:7.1f} ms per turn ({(mb / ma - 1) * 100:.0f}%)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turns", type=int, default=20)
    asyncio.run(main(ap.parse_args().turns))
