"""Helpers the real-agent adapter tests share: follow a session's events, pick items, find agent processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox_agent.client import Session
from sandbox_agent.schema.events import UniversalEvent


async def until(
    session: Session, offset: int, pred: Callable[[UniversalEvent], bool], timeout: float = 60
) -> list[UniversalEvent]:
    """Events after `offset`, up to and including the first one `pred` accepts."""
    out: list[UniversalEvent] = []

    async def collect() -> None:
        async with contextlib.aclosing(session.events(offset)) as events:
            async for e in events:
                out.append(e)
                if pred(e):
                    return

    await asyncio.wait_for(collect(), timeout)
    return out


def ended(turn: str) -> Callable[[UniversalEvent], bool]:
    return lambda e: e.type == "turn.ended" and e.data.turn_id == turn  # type: ignore[union-attr]


def completed(events: list[UniversalEvent], kind: str) -> list[Any]:
    return [e.data.item for e in events if e.type == "item.completed" and e.data.item.kind == kind]  # type: ignore[union-attr]


def pids_where(match: Callable[[list[bytes]], bool]) -> list[int]:
    """Processes whose argv (split on NUL) `match` accepts."""
    pids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            with contextlib.suppress(OSError):
                if match(Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")):
                    pids.append(int(p))
    return pids
