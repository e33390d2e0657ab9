"""What the daemon adds to a Codex turn: the same scripted one-reply turn (a) straight on `codex app-server` and
(b) through `sandbox-agent server` over WebSocket, both against the fake Responses provider.

    python benchmarks/codex_overhead.py [--turns 30]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _daemon import DaemonUnderTest  # noqa: E402

from sandbox_agent.agents.launch_env import codex_launch  # noqa: E402
from sandbox_agent.install import Installer  # noqa: E402
from sandbox_agent.testing import FakeLLM, Reply  # noqa: E402

REPLY = Reply(text="The answer is forty-two, as always.")


async def direct(command: list[str], fake: FakeLLM, turns: int) -> list[float]:
    home = Path(tempfile.mkdtemp())
    work = tempfile.mkdtemp()
    env = {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake"}
    launch = codex_launch(env, home, str(home), "fake-model", "bypass")
    proc = await asyncio.create_subprocess_exec(
        *command,
        "app-server",
        cwd=home,
        env=launch.env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        limit=1 << 24,
    )
    assert proc.stdin and proc.stdout
    ids = itertools.count(1)

    async def send(method: str, params: dict | None = None, notify: bool = False) -> int:
        i = next(ids)
        msg = {"jsonrpc": "2.0", "method": method, "params": params or {}}
        if not notify:
            msg["id"] = i
        proc.stdin.write(json.dumps(msg).encode() + b"\n")  # type: ignore[union-attr]
        await proc.stdin.drain()  # type: ignore[union-attr]
        return i

    async def until(pred) -> dict:  # type: ignore[no-untyped-def]
        while True:
            msg = json.loads(await proc.stdout.readline())  # type: ignore[union-attr]
            if pred(msg):
                return msg

    i = await send("initialize", {"clientInfo": {"name": "bench", "version": "0"}, "capabilities": None})
    await until(lambda m: m.get("id") == i)
    await send("initialized", notify=True)
    i = await send(
        "thread/start", {"cwd": work, "approvalPolicy": "never", "sandbox": "danger-full-access", "model": "fake-model"}
    )
    thread = (await until(lambda m: m.get("id") == i))["result"]["thread"]["id"]
    times = []
    for n in range(turns + 2):
        fake.enqueue(REPLY)
        t0 = time.perf_counter()
        await send("turn/start", {"threadId": thread, "input": [{"type": "text", "text": f"q{n}"}]})
        await until(lambda m: m.get("method") == "turn/completed")
        if n >= 2:
            times.append(time.perf_counter() - t0)
    proc.stdin.close()
    await proc.wait()
    return times


async def through_daemon(fake: FakeLLM, turns: int) -> list[float]:
    env = {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake"}
    async with DaemonUnderTest() as daemon:
        params = {
            "agent": "codex",
            "cwd": tempfile.mkdtemp(),
            "model": "fake-model",
            "permission_mode": "bypass",
            "env": env,
        }
        sid = (await daemon.call("sessions/create", params))["session_id"]
        return await daemon.timed_turns(sid, fake, REPLY, turns)


async def main(turns: int) -> None:
    command = (await Installer().install("codex")).command
    async with FakeLLM() as fake:
        a = await direct(command, fake, turns)
        b = await through_daemon(fake, turns)
    ma, mb = statistics.median(a) * 1000, statistics.median(b) * 1000
    print(f"codex one-reply turn, median of {turns} (after 2 warm-up turns), fake Responses provider on loopback")
    print(f"  (a) codex app-server directly        {ma:7.1f} ms")
    print(f"  (b) through the daemon (WebSocket)   {mb:7.1f} ms")
    print(f"  added by the daemon                  {mb - ma:7.1f} ms per turn ({(mb / ma - 1) * 100:.0f}%)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turns", type=int, default=30)
    asyncio.run(main(ap.parse_args().turns))
