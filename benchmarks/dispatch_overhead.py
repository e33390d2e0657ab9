"""Per-call cost of our JSON-RPC dispatcher (pydantic-validated params) against `jsonrpcserver` when installed.

    python benchmarks/dispatch_overhead.py [--calls 20000]

Prints µs per call (median of 5 runs) for a method with two typed params, and what each does with a wrongly typed
param and with a batch holding one malformed element — the reasons behind docs/decisions.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from pydantic import BaseModel

from sandbox_agent.rpc.dispatcher import Dispatcher


class AddParams(BaseModel):
    a: int
    b: int


class AddResult(BaseModel):
    sum: int


ours: Dispatcher[None] = Dispatcher()


@ours.method("add", AddParams, AddResult, "add two integers")
async def add(p: AddParams, ctx: None) -> AddResult:
    return AddResult(sum=p.a + p.b)


REQ = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "add", "params": {"a": 1, "b": 2}})
BAD_TYPE = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "add", "params": {"a": "one", "b": 2}})
BATCH = json.dumps([json.loads(REQ), 42])


async def time_calls(fn, calls: int) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            await fn(REQ)
        runs.append((time.perf_counter() - t0) / calls * 1e6)
    return statistics.median(runs)


async def main(calls: int) -> None:
    async def call_ours(raw: str) -> str:
        reply = await ours.handle_bytes(raw, None)
        return reply.decode() if reply else ""

    print(f"ours            {await time_calls(call_ours, calls):7.1f} us/call")
    print(f"  wrong type  -> {await call_ours(BAD_TYPE)}")
    print(f"  bad batch   -> {await call_ours(BATCH)}")
    try:
        from jsonrpcserver import Success, async_dispatch, method
    except ImportError:
        print("jsonrpcserver not installed: pip install jsonrpcserver to compare")
        return

    @method(name="add")
    async def add_js(a: int, b: int):  # type: ignore[no-untyped-def]
        return Success({"sum": a + b})

    print(f"jsonrpcserver   {await time_calls(async_dispatch, calls):7.1f} us/call")
    print(f"  wrong type  -> {await async_dispatch(BAD_TYPE)}")
    print(f"  bad batch   -> {await async_dispatch(BATCH)}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=20000)
    asyncio.run(main(ap.parse_args().calls))
