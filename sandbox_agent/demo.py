"""`sandbox-agent demo`: the server plus one demo session, printed as it streams, then left running."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys

from rich.console import Console
from rich.markup import escape

from .client import SandboxAgent
from .schema.events import UniversalEvent
from .server.daemon import Daemon
from .server.run import serve_http

console = Console(stderr=True)


def describe(event: UniversalEvent) -> str:
    data = event.data.model_dump(exclude_none=True)
    if event.type in ("item.started", "item.completed"):
        item = data["item"]
        parts = ", ".join(p["type"] for p in item.get("content", [])) or "-"
        return f"{item['kind']} ({item.get('role', '-')}) [{parts}]"
    if event.type == "item.delta":
        return repr(data["delta"])
    return ", ".join(f"{k}={v}" for k, v in data.items() if k != "metadata")


KEYS = (("claude", "ANTHROPIC_API_KEY"), ("codex", "OPENAI_API_KEY"), ("amp", "AMP_API_KEY"))


def pick_agent(agent: str) -> tuple[str, dict[str, str]]:
    """`auto`: a real agent when its key is in the environment (installed on demand), else the mock."""
    import os

    if agent == "auto":
        agent = next((a for a, key in KEYS if os.environ.get(key)), "mock")
    prefixes = ("ANTHROPIC_", "OPENAI_", "AMP_", "CLAUDE_CODE_OAUTH_TOKEN")
    env = {k: v for k, v in os.environ.items() if k.startswith(prefixes)} if agent != "mock" else {}
    return agent, env


async def run_demo(host: str, port: int, prompt: str, daemon: Daemon, agent: str = "auto") -> None:
    token = secrets.token_urlsafe(24)
    server = asyncio.ensure_future(serve_http(daemon, host, port, token))
    client = None
    for _ in range(200):
        if server.done():
            server.result()  # raises the bind error
        try:
            client = await SandboxAgent.connect(f"http://{host}:{port}", token, reconnect=False)
            break
        except OSError:
            await asyncio.sleep(0.05)
    if client is None:
        raise OSError(f"the server on {host}:{port} did not come up")
    agent, env = pick_agent(agent)
    if agent != "mock" and prompt == "everything":
        prompt = "Say hello, then list the files in this directory."
    console.print(f"[bold]demo session[/] on {agent} (installing it if needed); prompt: {prompt!r}")
    session = await client.create_session(agent, session_id=f"demo-{secrets.token_hex(3)}", env=env)
    turn = await session.send(prompt)
    async with contextlib.aclosing(session.events()) as events:
        async for event in events:
            console.print(f"  {event.sequence:>3} [cyan]{event.type:<20}[/] {escape(describe(event))}")
            if event.type == "turn.ended" and event.data.turn_id == turn:  # type: ignore[union-attr]
                break
    await client.close()
    console.print(
        f"\n[bold green]The daemon keeps running[/] on http://{host}:{port} (Ctrl-C to stop).\n"
        f"  Inspector: http://{host}:{port}/ui/ (it asks for the token: {token})\n"
        "Try:\n"
        f"  curl -s -H 'Authorization: Bearer {token}' http://{host}:{port}/v1/rpc "
        '-d \'{"jsonrpc":"2.0","id":1,"method":"sessions/list"}\'\n'
        f"  sandbox-agent api --endpoint http://{host}:{port} --token {token} sessions/prompt "
        f"session_id={session.id} message='tool search the docs'"
    )
    with contextlib.suppress(asyncio.CancelledError):
        await server
    sys.stderr.flush()
