"""What the daemon adds to an OpenCode turn: the same warm one-reply turn (a) straight over `opencode serve`'s
HTTP API (prompt_async, then wait for session.idle on the event stream) and (b) through `sandbox-agent server`
over WebSocket, both against the fake Chat Completions provider.

    python benchmarks/opencode_overhead.py [--turns 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox_agent",
        "server",
        "--port",
        "0",
        "--no-token",
        "--state-dir",
        tempfile.mkdtemp(),
        "--log-level",
        "warning",
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert server.stderr
    port = 0
    while not port:
        line = (await server.stderr.readline()).decode()
        if "listening on" in line:
            port = int(line.rsplit(":", 1)[1])
    ws = await connect(f"ws://127.0.0.1:{port}/v1/rpc", compression=None, max_size=None)
    ids = itertools.count(1)

    async def call(method: str, params: dict) -> dict:
        i = next(ids)
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return msg["result"]

    env = {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake"}
    sid = (
        await call(
            "sessions/create",
            {
                "agent": "opencode",
                "cwd": tempfile.mkdtemp(),
                "model": "fake-model",
                "permission_mode": "bypass",
                "env": env,
            },
        )
    )["session_id"]
    times = []
    for n in range(turns + 2):
        fake.enqueue(REPLY)
        t0 = time.perf_counter()
        await call("sessions/prompt", {"session_id": sid, "message": f"q{n}"})
        if n >= 2:
            times.append(time.perf_counter() - t0)
    await ws.close()
    server.terminate()
    await server.wait()
    return times


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
