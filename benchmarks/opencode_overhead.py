"""What the daemon adds to an OpenCode turn: the same warm one-reply turn (a) straight over `opencode serve`'s
HTTP API (prompt_async, then wait for session.idle on the event stream) and (b) through `sandbox-agent server`
over WebSocket, both against one fake Chat Completions provider.

    python benchmarks/opencode_overhead.py [--turns 30]

Interleaved A/B: both sides stay up, and each round times one direct and one daemon turn, alternating which goes
first. Prints each side's median, what the daemon adds (median and IQR of the per-round differences), the server
process's CPU per turn and the load average; `--help` says exactly what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _daemon import PAIRED_HELP, DaemonUnderTest, Turn, paired_turns  # noqa: E402

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


@asynccontextmanager
async def direct(command: list[str], version: str, fake: FakeLLM) -> AsyncIterator[Turn]:
    """An `opencode serve` with one session kept up; yields one whole turn (prompt_async to session.idle)."""
    home = Path(tempfile.mkdtemp())
    work = tempfile.mkdtemp()
    env = {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake"}
    launch = opencode_launch(env, home, "fake-model", "bypass", version)
    server = OpenCodeServer(command, launch.env, home)
    try:
        await server.start()
        sid = (await server.call("POST", "/session", work, {"title": "bench"}))["id"]
        idle = Idle()
        server.sessions[sid] = idle

        async def turn(n: int) -> None:
            idle.fut = asyncio.get_running_loop().create_future()
            body = {"parts": [{"type": "text", "text": f"q{n}"}]}
            await server.call("POST", f"/session/{sid}/prompt_async", work, body)
            await idle.fut

        yield turn
    finally:
        await server.stop()


async def main(turns: int) -> None:
    installed = await Installer().install("opencode")
    async with (
        FakeLLM() as fake,
        direct(installed.command, installed.version, fake) as direct_turn,
        DaemonUnderTest() as daemon,
    ):
        params = {
            "agent": "opencode",
            "cwd": tempfile.mkdtemp(),
            "model": "fake-model",
            "permission_mode": "bypass",
            "env": {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake"},
        }
        sid = (await daemon.call("sessions/create", params))["session_id"]
        run = await paired_turns(
            direct_turn, lambda n: daemon.prompt(sid, n), lambda: fake.enqueue(REPLY), turns, daemon.server.pid
        )
    title = "opencode warm one-reply turn, fake Chat Completions provider"
    for line in run.report(title, "opencode serve HTTP API directly", "through the daemon (WebSocket)"):
        print(line)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(
        description=__doc__, epilog=PAIRED_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--turns", type=int, default=30)
    asyncio.run(main(ap.parse_args().turns))
