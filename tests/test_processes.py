"""processes/* against a real server: exit codes, timeouts that reach grandchildren, caps, concurrency, signals,
stdin, and output offsets that survive a client reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

pytestmark = pytest.mark.anyio


def call(srv, method: str, **params):  # type: ignore[no-untyped-def]
    reply = srv.rpc(method, params)
    return reply.get("result", reply.get("error"))


def kind(err: dict) -> str | None:
    return (err.get("data") or {}).get("kind")


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def wait_until(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


class RpcSocket:
    """A bare JSON-RPC WebSocket client that keeps every notification it receives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.notes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                msg = json.loads(raw)
                if "id" in msg and msg["id"] in self.pending:
                    self.pending.pop(msg["id"]).set_result(msg)
                else:
                    await self.notes.put(msg)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        req_id = next(self.ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[req_id] = fut
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params}))
        msg = await asyncio.wait_for(fut, 30)
        return msg.get("result", msg.get("error"))


@contextlib.asynccontextmanager
async def rpc_socket(srv):  # type: ignore[no-untyped-def]
    async with connect(srv.url.replace("http", "ws") + "/v1/rpc", additional_headers=srv.headers()) as ws:
        sock = RpcSocket(ws)
        try:
            yield sock
        finally:
            sock.reader.cancel()


def test_exit_codes_stderr_env_cwd_and_stdin(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = call(server, "processes/run", shell="echo out; echo err >&2; exit 3")
    assert (r["exit_code"], r["stdout"], r["stderr"]) == (3, "out\n", "err\n")
    assert not r["timed_out"] and not r["truncated"]
    assert r["duration_ms"] > 0
    r = call(server, "processes/run", command=["sh", "-c", 'echo "$GREETING from $(pwd)"'], env={"GREETING": "hi"},
             cwd=str(tmp_path))
    assert r["stdout"] == f"hi from {tmp_path}\n" and r["exit_code"] == 0
    r = call(server, "processes/run", command=["tr", "a-z", "A-Z"], stdin="shout\n")
    assert r["stdout"] == "SHOUT\n"
    r = call(server, "processes/run", command=["sh", "-c", "kill -TERM $$"])
    assert r["exit_code"] is None and r["signal"] == 15


def test_timeout_kills_grandchildren(server) -> None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    r = call(server, "processes/run", shell="sleep 100 & echo $!; wait", timeout_s=1)
    took = time.monotonic() - t0
    assert r["timed_out"] and r["signal"] == 9 and r["exit_code"] is None
    assert took < 5, took
    grandchild = int(r["stdout"].split()[0])
    wait_until(lambda: not alive(grandchild), 5)


def test_output_caps_mark_truncated(server) -> None:  # type: ignore[no-untyped-def]
    noisy = "head -c 300000 /dev/zero | tr '\\0' x; echo tail >&2"
    r = call(server, "processes/run", shell=noisy, max_output_bytes=1000)
    assert r["truncated"] and len(r["stdout"]) == 1000 and r["stderr"] == "tail\n" and r["exit_code"] == 0


def test_twenty_concurrent_processes(server) -> None:  # type: ignore[no-untyped-def]
    started = [call(server, "processes/start", shell=f"sleep 0.5; echo proc-{i}") for i in range(20)]
    ids = [s["process_id"] for s in started]
    assert len(set(ids)) == 20
    listed = {p["process_id"] for p in call(server, "processes/list")["processes"]}
    assert set(ids) <= listed

    def all_done() -> bool:
        return all(call(server, "processes/get", process_id=i)["status"] == "exited" for i in ids)

    wait_until(all_done, 15)
    for i, pid in enumerate(ids):
        out = call(server, "processes/output", process_id=pid)
        assert out["stdout"] == f"proc-{i}\n" and out["exit_code"] == 0

    async def runs() -> list[dict]:
        async with httpx.AsyncClient(headers=server.headers(), timeout=30) as http:
            async def one(i: int) -> dict:
                body = {"jsonrpc": "2.0", "id": i, "method": "processes/run",
                        "params": {"shell": f"sleep 0.5; echo run-{i}"}}
                return (await http.post(server.url + "/v1/rpc", json=body)).json()["result"]

            return await asyncio.gather(*(one(i) for i in range(20)))

    t0 = time.monotonic()
    results = asyncio.run(runs())
    took = time.monotonic() - t0
    assert [r["stdout"] for r in results] == [f"run-{i}\n" for i in range(20)]
    assert took < 5, f"20 runs of 0.5 s took {took:.1f} s: they did not run at once"


def test_kill_with_sigterm_then_sigkill(server) -> None:  # type: ignore[no-untyped-def]
    p = call(server, "processes/start", shell='trap "" TERM; echo ready; while :; do sleep 0.1; done')
    pid = p["process_id"]
    wait_until(lambda: "ready" in call(server, "processes/output", process_id=pid)["stdout"])
    term = call(server, "processes/kill", process_id=pid)  # default SIGTERM, ignored on purpose
    assert term == {"process_id": pid, "signal": "SIGTERM", "delivered": True}
    time.sleep(0.5)
    assert call(server, "processes/get", process_id=pid)["status"] == "running"
    assert call(server, "processes/kill", process_id=pid, signal="KILL")["signal"] == "SIGKILL"
    wait_until(lambda: call(server, "processes/get", process_id=pid)["status"] == "exited")
    info = call(server, "processes/get", process_id=pid)
    assert info["signal"] == 9 and info["exit_code"] is None
    assert not alive(p["pid"])
    assert call(server, "processes/kill", process_id=pid, signal=9)["delivered"] is False


def test_input_to_cat(server) -> None:  # type: ignore[no-untyped-def]
    p = call(server, "processes/start", command=["cat"], stdin="first\n")
    pid = p["process_id"]
    assert call(server, "processes/input", process_id=pid, data="second\n") == {"bytes": 7}
    assert call(server, "processes/input", process_id=pid, data_base64="dGhpcmQK", eof=True) == {"bytes": 6}
    wait_until(lambda: call(server, "processes/get", process_id=pid)["status"] == "exited")
    out = call(server, "processes/output", process_id=pid)
    assert out["stdout"] == "first\nsecond\nthird\n" and out["exit_code"] == 0
    assert kind(call(server, "processes/input", process_id=pid, data="late")) == "process_exited"


async def test_streamed_output_and_offsets_after_a_reconnect(server) -> None:  # type: ignore[no-untyped-def]
    script = "for i in $(seq 1 60); do echo line$i; [ $((i % 10)) = 0 ] && echo tick$i >&2; sleep 0.02; done"
    expected = "".join(f"line{i}\n" for i in range(1, 61))
    async with rpc_socket(server) as first:
        pid = (await first.call("processes/start", shell=script))["process_id"]
        sub = await first.call("processes/subscribe", process_id=pid)
        got: list[dict] = []
        while sum(1 for n in got if n["params"]["stream"] == "stdout") < 5:
            note = await asyncio.wait_for(first.notes.get(), 10)
            assert note["method"] == "processes/output" and note["params"]["subscription_id"] == sub["subscription_id"]
            got.append(note)
    # the client is gone; the process runs on and stays listed
    resume = max(n["params"]["offset"] + len(n["params"]["data"].encode()) for n in got)
    listed = [p for p in call(server, "processes/list")["processes"] if p["process_id"] == pid]
    assert listed and listed[0]["status"] == "running"
    await asyncio.sleep(0.3)
    async with rpc_socket(server) as second:
        await second.call("processes/subscribe", process_id=pid, offset=resume)
        exited = None
        while exited is None:
            note = await asyncio.wait_for(second.notes.get(), 10)
            if note["method"] == "processes/exited":
                exited = note["params"]
            else:
                got.append(note)
    assert exited["exit_code"] == 0 and exited["process_id"] == pid
    offsets = [n["params"]["offset"] for n in got]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)  # in order, none twice
    assert "".join(n["params"]["data"] for n in got if n["params"]["stream"] == "stdout") == expected
    assert [n["params"]["data"] for n in got if n["params"]["stream"] == "stderr"] == [
        f"tick{i}\n" for i in range(10, 61, 10)
    ]
    # the same bytes by offset, no subscription needed
    whole = call(server, "processes/output", process_id=pid)
    assert whole["stdout"] == expected and whole["offset"] == 0 and not whole["has_more"]
    tail = call(server, "processes/output", process_id=pid, offset=resume)
    assert tail["offset"] == resume and whole["next_offset"] == tail["next_offset"]
    paged = call(server, "processes/output", process_id=pid, offset=0, limit=7)
    assert paged["next_offset"] == 7 and paged["has_more"] and paged["stdout"] == "line1\nl"


def test_limits_are_flags(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(extra=["--max-processes", "3", "--max-process-output", "100", "--max-process-seconds", "5"])
    limits = call(srv, "processes/limits")
    assert limits == {"max_processes": 3, "max_output_bytes": 100, "max_timeout_s": 5.0, "running": 0}
    ids = [call(srv, "processes/start", command=["sleep", "30"])["process_id"] for _ in range(3)]
    assert call(srv, "processes/limits")["running"] == 3
    err = call(srv, "processes/start", command=["true"])
    assert kind(err) == "limit_exceeded" and err["data"]["limit"] == 3
    assert kind(call(srv, "processes/run", command=["true"])) == "limit_exceeded"
    for pid in ids:
        call(srv, "processes/kill", process_id=pid, signal="KILL")
    wait_until(lambda: call(srv, "processes/limits")["running"] == 0)
    assert kind(call(srv, "processes/run", command=["true"], timeout_s=6)) == "limit_exceeded"
    assert kind(call(srv, "processes/run", command=["true"], max_output_bytes=101)) == "limit_exceeded"
    capped = call(srv, "processes/run", shell="head -c 1000 /dev/zero")
    assert capped["truncated"] and len(capped["stdout"]) == 100
    kept = call(srv, "processes/start", shell="head -c 1000 /dev/zero | tr '\\0' y")
    wait_until(lambda: call(srv, "processes/get", process_id=kept["process_id"])["status"] == "exited")
    out = call(srv, "processes/output", process_id=kept["process_id"])
    assert out["dropped"] == 900 and out["offset"] == 900 and out["stdout"] == "y" * 100


async def test_bad_input_gets_clear_errors(server) -> None:  # type: ignore[no-untyped-def]
    assert server.rpc("processes/run", {})["error"]["code"] == -32602
    assert server.rpc("processes/run", {"command": ["a"], "shell": "b"})["error"]["code"] == -32602
    assert server.rpc("processes/run", {"command": []})["error"]["code"] == -32602
    assert server.rpc("processes/run", {"command": "ls"})["error"]["code"] == -32602
    assert server.rpc("processes/run", {"shell": "true", "timeout_s": -1})["error"]["code"] == -32602
    assert server.rpc("processes/run", {"shell": "true", "env": {"A": 1}})["error"]["code"] == -32602
    assert kind(call(server, "processes/run", command=["/no/such/binary"])) == "spawn_failed"
    assert kind(call(server, "processes/run", command=["true"], cwd="/no/such/dir")) == "spawn_failed"
    for method, params in [
        ("processes/get", {"process_id": "nope"}),
        ("processes/kill", {"process_id": "nope"}),
        ("processes/input", {"process_id": "nope", "data": "x"}),
        ("processes/output", {"process_id": "nope"}),
    ]:
        assert kind(call(server, method, **params)) == "process_not_found", method
    pid = call(server, "processes/start", command=["sleep", "5"])["process_id"]
    assert server.rpc("processes/kill", {"process_id": pid, "signal": "SIGNOPE"})["error"]["code"] == -32602
    assert kind(call(server, "processes/output", process_id=pid, offset=10**9)) == "invalid_offset"
    assert kind(call(server, "processes/subscribe", process_id=pid)) == "not_supported"  # one-shot HTTP
    async with rpc_socket(server) as sock:
        assert kind(await sock.call("processes/subscribe", process_id="nope")) == "process_not_found"
        assert kind(await sock.call("processes/unsubscribe", subscription_id="nope")) == "subscription_not_found"
        sub = await sock.call("processes/subscribe")
        assert await sock.call("processes/unsubscribe", subscription_id=sub["subscription_id"]) == {}
    call(server, "processes/kill", process_id=pid, signal="KILL")
    assert call(server, "processes/run", command=["true"])["exit_code"] == 0
    assert server.proc.poll() is None


def test_processes_end_with_the_daemon(server) -> None:  # type: ignore[no-untyped-def]
    p = call(server, "processes/start", shell="sleep 100 & sleep 100; wait")
    assert alive(p["pid"])
    server.stop()
    wait_until(lambda: not alive(p["pid"]), 5)
    assert os.getpgid(os.getpid()) != p["pid"]


async def test_the_python_sdk(server) -> None:  # type: ignore[no-untyped-def]
    from sandbox_agent.client import SandboxAgent

    async with await SandboxAgent.connect(server.url, server.token) as client:
        r = await client.run("echo $((6*7))")
        assert r.stdout == "42\n" and r.exit_code == 0
        assert (await client.run(["sh", "-c", "exit 4"])).exit_code == 4
        pid = await client.start_process(["sh", "-c", "read x; echo got-$x; echo warn >&2"])
        await client.process_input(pid, "hello\n")
        chunks = [c async for c in client.process_output_stream(pid)]
        assert {(c.stream, c.data) for c in chunks} == {("stdout", "got-hello\n"), ("stderr", "warn\n")}
        info = await client.get_process(pid)
        assert info.status == "exited" and info.exit_code == 0
        assert pid in [p.process_id for p in await client.list_processes()]
        # after the process ended, a stream from an offset replays what is kept, then stops
        again = [c async for c in client.process_output_stream(pid, offset=4)]
        assert "".join(c.data for c in again if c.stream == "stdout") == "hello\n"
        sleeper = await client.start_process("sleep 30")
        assert await client.kill_process(sleeper, "KILL")


async def test_mcp_tools_check_the_agents_work(tmp_path: Path) -> None:
    from mcp import Client

    from sandbox_agent.mcp.backend import InProcessBackend
    from sandbox_agent.mcp.facade import build_server
    from sandbox_agent.server.daemon import Daemon

    daemon = Daemon(ephemeral=True, fs_roots=[str(tmp_path)])
    await daemon.start()
    try:
        async with Client(build_server(InProcessBackend(daemon))) as client:
            async def tool(name: str, args: dict) -> Any:
                result = await client.call_tool(name, args)
                assert not result.is_error, result.content
                return result.structured_content

            target = str(tmp_path / "pkg" / "test_it.py")
            wrote = await tool("write_file", {"path": target, "text": "assert 6 * 7 == 42\n"})
            assert wrote == {"path": target, "size": 19}
            assert (await tool("read_file", {"path": target}))["text"] == "assert 6 * 7 == 42\n"
            ran = await tool("run_command", {"command": "python3 pkg/test_it.py && echo ok", "cwd": str(tmp_path)})
            assert ran["exit_code"] == 0 and ran["stdout"] == "ok\n"
            slow = await tool("run_command", {"command": "sleep 10", "timeout_s": 0.5})
            assert slow["timed_out"]
            refused = await client.call_tool("read_file", {"path": "/etc/passwd"})
            assert refused.is_error and "path_outside_roots" in refused.content[0].text  # type: ignore[union-attr]
    finally:
        await daemon.stop()


async def test_streaming_over_stdio(tmp_path: Path) -> None:
    """The same methods and notifications on the stdio transport (an embedded daemon)."""
    from sandbox_agent.client import SandboxAgent

    client = await SandboxAgent.start(state_dir=str(tmp_path / "state"), ephemeral=True)
    try:
        pid = await client.start_process(["sh", "-c", "for i in 1 2 3; do echo n$i; sleep 0.05; done"])
        chunks = [c async for c in client.process_output_stream(pid)]
        assert "".join(c.data for c in chunks) == "n1\nn2\nn3\n"
        with pytest.raises(Exception) as refused:  # tmp_path is not under the daemon's working dir
            await client.fs_write(str(tmp_path / "w.txt"), "over stdio")
        assert getattr(refused.value, "kind", None) == "path_outside_roots"
    finally:
        await client.close()
