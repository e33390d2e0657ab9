"""What the daemon adds to a Claude Code turn: the same scripted warm turn (a) straight on a `claude` stream-json
process and (b) through `sandbox-agent server` over WebSocket, both against the fake Anthropic provider.

    python benchmarks/claude_overhead.py [--turns 30]

Prints the median turn time of each, the milliseconds the daemon adds per turn, and the time from sending a
message to the first universal event the client receives from the agent (not counting the daemon's own
turn.started/user item).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _daemon import DaemonUnderTest  # noqa: E402

from sandbox_agent.agents.launch_env import claude_launch  # noqa: E402
from sandbox_agent.install import Installer  # noqa: E402
from sandbox_agent.testing import FakeLLM, Reply  # noqa: E402

REPLY = Reply(text="The answer is forty-two, as always.")


async def direct(command: list[str], fake: FakeLLM, turns: int) -> list[float]:
    work = Path(tempfile.mkdtemp())
    launch = claude_launch({"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake"}, work / "st")
    proc = await asyncio.create_subprocess_exec(
        *command,
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
        "--permission-prompt-tool",
        "stdio",
        "--permission-mode",
        "bypassPermissions",
        cwd=work,
        env=launch.env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        limit=1 << 24,
    )
    assert proc.stdin and proc.stdout
    times = []
    for i in range(turns + 2):
        fake.enqueue(REPLY)
        t0 = time.perf_counter()
        line = {"type": "user", "message": {"role": "user", "content": f"question {i}"}, "parent_tool_use_id": None}
        proc.stdin.write(json.dumps(line).encode() + b"\n")
        await proc.stdin.drain()
        while True:
            out = json.loads(await proc.stdout.readline())
            if out.get("type") == "result":
                break
        if i >= 2:  # the first turns pay for start-up
            times.append(time.perf_counter() - t0)
    proc.stdin.close()
    await proc.wait()
    return times


async def through_daemon(fake: FakeLLM, turns: int) -> tuple[list[float], list[float]]:
    first_event: list[asyncio.Future[float]] = []
    sent: list[float] = []

    def on_event(params: dict) -> None:
        if params["event"]["source"] == "agent" and first_event and not first_event[-1].done():
            first_event[-1].set_result(time.perf_counter() - sent[-1])

    def before() -> None:
        first_event.append(asyncio.get_running_loop().create_future())
        sent.append(time.perf_counter())

    env = {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake"}
    async with DaemonUnderTest(on_event) as daemon:
        params = {"agent": "claude", "cwd": tempfile.mkdtemp(), "permission_mode": "bypass", "env": env}
        sid = (await daemon.call("sessions/create", params))["session_id"]
        await daemon.call("sessions/subscribe", {"session_id": sid})
        times = await daemon.timed_turns(sid, fake, REPLY, turns, before=before)
        firsts = [await f for f in first_event[2:]]
        await daemon.call("sessions/terminate", {"session_id": sid})
        return times, firsts


async def main(turns: int) -> None:
    command = (await Installer().install("claude")).command
    async with FakeLLM() as fake:
        a = await direct(command, fake, turns)
        b, first = await through_daemon(fake, turns)
    ma, mb = statistics.median(a) * 1000, statistics.median(b) * 1000
    print(f"claude warm turn, median of {turns} (after 2 warm-up turns), fake Anthropic provider on loopback")
    print(f"  (a) claude stream-json directly      {ma:7.1f} ms")
    print(f"  (b) through the daemon (WebSocket)   {mb:7.1f} ms")
    print(f"  added by the daemon                  {mb - ma:7.1f} ms per turn ({(mb / ma - 1) * 100:.0f}%)")
    print(f"  send -> first agent event at client  {statistics.median(first) * 1000:7.1f} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turns", type=int, default=30)
    asyncio.run(main(ap.parse_args().turns))
