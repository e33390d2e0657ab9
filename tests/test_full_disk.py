"""A full disk: events keep flowing from memory, health says degraded, and the journal catches up afterwards."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import httpx
import pytest

from sandbox_agent.client import SandboxAgent

pytestmark = pytest.mark.anyio


def fill(path: Path) -> None:
    with open(path, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()


def health(srv) -> str:  # type: ignore[no-untyped-def]
    return httpx.get(srv.url + "/v1/health").json()["journal"]


async def test_disk_full_then_freed(server_factory, small_disk: Path) -> None:  # type: ignore[no-untyped-def]
    state = small_disk / "state"
    srv = server_factory(state_dir=state)
    client = await SandboxAgent.connect(srv.url, srv.token)
    s = await client.create_session("mock", session_id="full")
    await s.prompt("before the disk fills")
    filler = small_disk / "filler"
    fill(filler)
    texts = []
    for i in range(40):  # enough events to need new pages
        texts.append((await s.prompt(f"while full {i} " + "x" * 2000)).text)
    assert texts[-1].startswith("You said: while full 39")
    assert health(srv).startswith("degraded"), "the daemon says its journal is failing"
    # clients still get every event, in order, from memory
    events, _, _ = await client.read_events("full", 0, 1000)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    total = len(events)
    os.remove(filler)
    deadline = time.monotonic() + 10
    while health(srv) != "ok" and time.monotonic() < deadline:
        await s.prompt("nudge")
    assert health(srv) == "ok"
    info = await s.get()
    total = info.event_count
    await client.close()
    srv.kill9()
    srv2 = server_factory(state_dir=state)
    c2 = await SandboxAgent.connect(srv2.url, srv2.token)
    stored, _, _ = await c2.read_events("full", 0, 1000)
    assert len(stored) >= total, "everything written while the disk was full reached the journal later"
    assert [e.sequence for e in stored] == list(range(1, len(stored) + 1))
    await c2.close()
