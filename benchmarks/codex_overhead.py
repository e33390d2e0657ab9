"""What the daemon adds to a Codex turn: the same scripted one-reply turn (a) straight on `codex app-server` and
(b) through `sandbox-agent server` over WebSocket, both against one fake Responses provider.

    python benchmarks/codex_overhead.py [--turns 30]

Interleaved A/B: both sides stay up, and each round times one direct and one daemon turn, alternating which goes
first. Prints each side's median, what the daemon adds (median and IQR of the per-round differences), the server
process's CPU per turn and the load average; `--help` says exactly what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _daemon import PAIRED_HELP, START_TIMEOUT, DaemonUnderTest, Turn, close_agent, paired_turns  # noqa: E402

from sandbox_agent.agents.launch_env import codex_launch  # noqa: E402
from sandbox_agent.install import Installer  # noqa: E402
from sandbox_agent.testing import FakeLLM, Reply  # noqa: E402

REPLY = Reply(text="The answer is forty-two, as always.")


@asynccontextmanager
async def direct(command: list[str], fake: FakeLLM) -> AsyncIterator[Turn]:
    """A `codex app-server` with one thread kept up; yields one whole turn (turn/start to turn/completed)."""
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
    stdin, stdout = proc.stdin, proc.stdout
    ids = itertools.count(1)

    async def send(method: str, params: dict | None = None, notify: bool = False) -> int:
        i = next(ids)
        msg = {"jsonrpc": "2.0", "method": method, "params": params or {}}
        if not notify:
            msg["id"] = i
        stdin.write(json.dumps(msg).encode() + b"\n")
        await stdin.drain()
        return i

    async def until(pred: Callable[[dict], bool]) -> dict:
        while True:
            raw = await stdout.readline()
            if not raw:
                raise RuntimeError("codex app-server exited")
            msg = json.loads(raw)
            if pred(msg):
                return msg

    try:
        async with asyncio.timeout(START_TIMEOUT):
            i = await send("initialize", {"clientInfo": {"name": "bench", "version": "0"}, "capabilities": None})
            await until(lambda m: m.get("id") == i)
            await send("initialized", notify=True)
            start = {"cwd": work, "approvalPolicy": "never", "sandbox": "danger-full-access", "model": "fake-model"}
            i = await send("thread/start", start)
            thread = (await until(lambda m: m.get("id") == i))["result"]["thread"]["id"]

        async def turn(n: int) -> None:
            await send("turn/start", {"threadId": thread, "input": [{"type": "text", "text": f"q{n}"}]})
            await until(lambda m: m.get("method") == "turn/completed")

        yield turn
    finally:
        await close_agent(proc)


async def main(turns: int) -> None:
    command = (await Installer().install("codex")).command
    async with FakeLLM() as fake, direct(command, fake) as direct_turn, DaemonUnderTest() as daemon:
        params = {
            "agent": "codex",
            "cwd": tempfile.mkdtemp(),
            "model": "fake-model",
            "permission_mode": "bypass",
            "env": {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake"},
        }
        sid = (await daemon.call("sessions/create", params))["session_id"]
        run = await paired_turns(
            direct_turn, lambda n: daemon.prompt(sid, n), lambda: fake.enqueue(REPLY), turns, daemon.server.pid
        )
    title = "codex one-reply turn, fake Responses provider on loopback"
    for line in run.report(title, "codex app-server directly", "through the daemon (WebSocket)"):
        print(line)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(
        description=__doc__, epilog=PAIRED_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--turns", type=int, default=30)
    asyncio.run(main(ap.parse_args().turns))
