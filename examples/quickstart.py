"""Run a turn on the mock agent through an embedded daemon, answer its permission request, print the stream.

    .venv/bin/python examples/quickstart.py [--url http://127.0.0.1:2468 --token T]

Without --url it spawns `sandbox-agent stdio` itself (no server needed); with --url it drives a running server.
Swap "mock" for "claude", "codex", "opencode" or "amp" and nothing else changes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from sandbox_agent.client import SandboxAgent


async def main(url: str | None, token: str | None) -> None:
    client = await (SandboxAgent.connect(url, token) if url else SandboxAgent.start(ephemeral=True))
    async with client:
        session = await client.create_session("mock", permission_mode="default")
        turn = await session.send("permission report.md")
        async with contextlib.aclosing(session.events()) as events:
            async for event in events:
                print(f"{event.sequence:>3} {event.type}")
                if event.type == "permission.requested":
                    print(f"    the agent asks to {event.data.action}: {event.data.metadata}")
                    await session.reply_permission(event.data.permission_id, "once")
                elif event.type == "item.completed" and event.data.item.role == "assistant":
                    for part in event.data.item.content:
                        print(f"    {part.type}: {getattr(part, 'text', None) or getattr(part, 'path', '')}")
                elif event.type == "turn.ended" and event.data.turn_id == turn:
                    break
        print((await session.prompt("tool what changed?")).text)
        await session.terminate()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--url")
    ap.add_argument("--token")
    args = ap.parse_args()
    asyncio.run(main(args.url, args.token))
