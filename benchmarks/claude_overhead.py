"""What the daemon adds to a Claude Code turn: the same scripted warm turn (a) straight on a `claude` stream-json
process and (b) through `sandbox-agent server` over WebSocket, both against one fake Anthropic provider.

    python benchmarks/claude_overhead.py [--turns 30]

Interleaved A/B: both sides stay up, and each round times one direct and one daemon turn, alternating which goes
first. Prints each side's median, what the daemon adds (median and IQR of the per-round differences), the server
process's CPU per turn and the load average; `--help` says exactly what each figure means.
Also prints the time from sending a message to the first universal event the client receives from the agent
(not the daemon's own turn.started/user item), median over the timed daemon turns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _daemon import PAIRED_HELP, TURN_TIMEOUT, WARMUP, DaemonUnderTest, Turn, close_agent, paired_turns  # noqa: E402

from sandbox_agent.agents.launch_env import claude_launch  # noqa: E402
from sandbox_agent.install import Installer  # noqa: E402
from sandbox_agent.testing import FakeLLM, Reply  # noqa: E402

REPLY = Reply(text="The answer is forty-two, as always.")


@asynccontextmanager
async def direct(command: list[str], fake: FakeLLM) -> AsyncIterator[Turn]:
    """A `claude` stream-json process kept up; yields one whole turn (send a user line, read to the result)."""
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
    stdin, stdout = proc.stdin, proc.stdout

    async def turn(n: int) -> None:
        line = {"type": "user", "message": {"role": "user", "content": f"question {n}"}, "parent_tool_use_id": None}
        stdin.write(json.dumps(line).encode() + b"\n")
        await stdin.drain()
        while True:
            raw = await stdout.readline()
            if not raw:
                raise RuntimeError("claude exited mid-turn")
            if json.loads(raw).get("type") == "result":
                return

    try:
        yield turn
    finally:
        await close_agent(proc)


async def main(turns: int) -> None:
    command = (await Installer().install("claude")).command
    first_event: list[asyncio.Future[float]] = []  # one per daemon turn, warm-up ones included
    sent = 0.0

    def on_event(params: dict) -> None:
        if params["event"]["source"] == "agent" and first_event and not first_event[-1].done():
            first_event[-1].set_result(time.perf_counter() - sent)

    async with FakeLLM() as fake, direct(command, fake) as direct_turn, DaemonUnderTest(on_event) as daemon:
        env = {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake"}
        params = {"agent": "claude", "cwd": tempfile.mkdtemp(), "permission_mode": "bypass", "env": env}
        sid = (await daemon.call("sessions/create", params))["session_id"]
        await daemon.call("sessions/subscribe", {"session_id": sid})

        async def daemon_turn(n: int) -> None:
            nonlocal sent
            first_event.append(asyncio.get_running_loop().create_future())
            sent = time.perf_counter()
            await daemon.prompt(sid, n)

        run = await paired_turns(direct_turn, daemon_turn, lambda: fake.enqueue(REPLY), turns, daemon.server.pid)
        first = [await asyncio.wait_for(f, TURN_TIMEOUT) for f in first_event[WARMUP:]]
        await daemon.call("sessions/terminate", {"session_id": sid})
    title = "claude warm turn, fake Anthropic provider on loopback"
    for line in run.report(title, "claude stream-json directly", "through the daemon (WebSocket)"):
        print(line)
    print(f"  send -> first agent event at client  {statistics.median(first) * 1000:7.1f} ms median")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(
        description=__doc__, epilog=PAIRED_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--turns", type=int, default=30)
    asyncio.run(main(ap.parse_args().turns))
