"""A real `sandbox-agent server` for the overhead benchmarks, driven over raw WebSocket JSON-RPC."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from sandbox_agent.testing import FakeLLM, Reply

ROOT = Path(__file__).resolve().parents[1]


class DaemonUnderTest:
    """`async with DaemonUnderTest() as d: await d.call(...)`; `on_event` sees every `sessions/event` param."""

    def __init__(self, on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.on_event = on_event
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def __aenter__(self) -> DaemonUnderTest:
        self.server = await asyncio.create_subprocess_exec(
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
        assert self.server.stderr is not None
        port = 0
        while not port:
            line = (await self.server.stderr.readline()).decode()
            if not line:
                raise RuntimeError("the server did not start")
            if "listening on" in line:
                port = int(line.rsplit(":", 1)[1])
        self.ws = await connect(f"ws://127.0.0.1:{port}/v1/rpc", compression=None, max_size=None)
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg:
                self._pending.pop(msg["id"]).set_result(msg)
            elif msg.get("method") == "sessions/event" and self.on_event is not None:
                self.on_event(msg["params"])

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        i = next(self._ids)
        self._pending[i] = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}))
        reply = await self._pending[i]
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    async def timed_turns(
        self,
        session_id: str,
        fake: FakeLLM,
        reply: Reply,
        turns: int,
        warmup: int = 2,
        before: Callable[[], None] | None = None,
    ) -> list[float]:
        """Seconds per `sessions/prompt` round trip, after `warmup` untimed turns."""
        times = []
        for n in range(turns + warmup):
            fake.enqueue(reply)
            if before is not None:
                before()
            t0 = time.perf_counter()
            await self.call("sessions/prompt", {"session_id": session_id, "message": f"question {n}"})
            if n >= warmup:
                times.append(time.perf_counter() - t0)
        return times

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        self._reader.cancel()
        self.server.terminate()
        await self.server.wait()
