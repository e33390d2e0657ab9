"""terminals/* and the /v1/terminals/{id} WebSocket against a real server: a real bash and python3 on a PTY,
resize, scrollback on reconnect, and close taking every process of the terminal with it."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sandbox_agent.schema.wire import token_subprotocol

pytestmark = pytest.mark.anyio
BASH = ["bash", "--norc", "--noprofile", "-i"]


def call(srv, method: str, **params):  # type: ignore[no-untyped-def]
    reply = srv.rpc(method, params)
    return reply.get("result", reply.get("error"))


def kind(err: dict) -> str | None:
    return (err.get("data") or {}).get("kind")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def ws_url(srv, terminal_id: str) -> str:  # type: ignore[no-untyped-def]
    return srv.url.replace("http", "ws") + f"/v1/terminals/{terminal_id}"


def open_ws(srv, terminal_id: str):  # type: ignore[no-untyped-def]
    return connect(ws_url(srv, terminal_id), additional_headers=srv.headers())


async def read_until(ws: ClientConnection, pattern: bytes, seen: bytearray | None = None, timeout: float = 10) -> bytes:
    buf = seen if seen is not None else bytearray()
    deadline = time.monotonic() + timeout
    while not re.search(pattern, bytes(buf)):
        left = deadline - time.monotonic()
        assert left > 0, f"no {pattern!r} in {bytes(buf)[-400:]!r}"
        try:
            frame = await asyncio.wait_for(ws.recv(), left)
        except TimeoutError:
            raise AssertionError(f"no {pattern!r} in {bytes(buf)[-400:]!r}") from None
        assert isinstance(frame, bytes), "terminal output comes as binary frames"
        buf += frame
    return bytes(buf)


async def test_bash_computes_42(server) -> None:  # type: ignore[no-untyped-def]
    t = call(server, "terminals/open", command=BASH, cols=80, rows=24)
    assert t["websocket_path"] == f"/v1/terminals/{t['terminal_id']}"
    async with open_ws(server, t["terminal_id"]) as ws:
        await ws.send(b"echo $((6*7))\n")
        out = await read_until(ws, rb"[\r\n]42\r\n")
    assert b"echo $((6*7))" in out  # the PTY echoes what was typed
    listed = call(server, "terminals/list")["terminals"]
    assert [x["terminal_id"] for x in listed] == [t["terminal_id"]] and listed[0]["status"] == "running"
    call(server, "terminals/close", terminal_id=t["terminal_id"])


async def test_resize_reaches_stty(server) -> None:  # type: ignore[no-untyped-def]
    t = call(server, "terminals/open", command=BASH, cols=80, rows=24)
    async with open_ws(server, t["terminal_id"]) as ws:
        await ws.send(b"stty size\n")
        seen = bytearray()
        await read_until(ws, rb"[\r\n]24 80\r\n", seen)
        info = call(server, "terminals/resize", terminal_id=t["terminal_id"], cols=132, rows=43)
        assert (info["cols"], info["rows"]) == (132, 43)
        # a program in front learns of it by SIGWINCH: this trap prints the size it sees
        await ws.send(b"trap 'echo winch $(stty size)' WINCH; sleep 5 & wait\n")
        await asyncio.sleep(0.5)
        call(server, "terminals/resize", terminal_id=t["terminal_id"], cols=100, rows=40)
        await read_until(ws, rb"winch 40 100", seen)
        await ws.send(b"stty size\n")
        await read_until(ws, rb"[\r\n]40 100\r\n", seen)
    call(server, "terminals/close", terminal_id=t["terminal_id"])


@pytest.mark.skipif(shutil.which("python3") is None, reason="no python3")
async def test_python_repl(server) -> None:  # type: ignore[no-untyped-def]
    t = call(server, "terminals/open", command=["python3", "-q"], cols=80, rows=24)
    async with open_ws(server, t["terminal_id"]) as ws:
        seen = bytearray()
        await read_until(ws, rb">>> ", seen)
        await ws.send(b"6*7\n")
        await read_until(ws, rb"[\r\n]42\r\n", seen)
        await ws.send(b"import os; os.isatty(0)\n")
        await read_until(ws, rb"[\r\n]True\r\n", seen)
        await ws.send(b"exit()\n")
        with pytest.raises(ConnectionClosed) as closed:  # output ends: the socket closes normally
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    deadline = time.monotonic() + 5
    while call(server, "terminals/list")["terminals"][0]["status"] != "exited":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert call(server, "terminals/list")["terminals"][0]["exit_code"] == 0


async def test_reconnect_gets_the_scrollback_first(server) -> None:  # type: ignore[no-untyped-def]
    t = call(server, "terminals/open", command=BASH, cols=80, rows=24)
    async with open_ws(server, t["terminal_id"]) as ws:
        await ws.send(b"echo marker-$((40+2))\n")
        await read_until(ws, rb"[\r\n]marker-42\r\n")
    # the terminal outlived its socket; it keeps working without one
    call(server, "processes/run", command=["true"])
    async with open_ws(server, t["terminal_id"]) as ws:
        first = await asyncio.wait_for(ws.recv(), 5)
        assert isinstance(first, bytes) and b"marker-42\r\n" in first  # replayed before anything new
        await ws.send(b"echo again-$((1+1))\n")
        await read_until(ws, rb"[\r\n]again-2\r\n")
    assert call(server, "terminals/list")["terminals"][0]["clients"] == 0
    call(server, "terminals/close", terminal_id=t["terminal_id"])


async def test_close_kills_the_process_group(server) -> None:  # type: ignore[no-untyped-def]
    t = call(server, "terminals/open", command=BASH, cols=80, rows=24)
    async with open_ws(server, t["terminal_id"]) as ws:
        # a background job (own process group under job control) and a plain child
        await ws.send(b"sleep 1000 & echo job:$!\n")
        out = await read_until(ws, rb"job:(\d+)")
        job = int(re.search(rb"job:(\d+)", out).group(1))  # type: ignore[union-attr]
        assert alive(job) and alive(t["pid"])
        closed = call(server, "terminals/close", terminal_id=t["terminal_id"])
        assert closed["status"] == "exited"
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 10)
    deadline = time.monotonic() + 5
    while alive(job) or alive(t["pid"]):
        assert time.monotonic() < deadline, "the terminal's processes outlived terminals/close"
        await asyncio.sleep(0.05)
    assert call(server, "terminals/list")["terminals"] == []


async def test_same_auth_as_rpc_and_clear_errors(server) -> None:  # type: ignore[no-untyped-def]
    t = call(server, "terminals/open", command=BASH)
    url = ws_url(server, t["terminal_id"])
    with pytest.raises(InvalidStatus):
        async with connect(url):
            pass
    with pytest.raises(InvalidStatus):
        async with connect(url, additional_headers={"authorization": "Bearer wrong"}):
            pass
    protos = [token_subprotocol(server.token), "sandbox-agent.v1"]
    async with connect(url, subprotocols=protos) as ws:  # type: ignore[arg-type]  # the browser form
        assert ws.subprotocol == "sandbox-agent.v1"
        await ws.send("echo text-frames-$((2+3))\n")  # text frames are typed too
        await read_until(ws, rb"text-frames-5")
    async with open_ws(server, "term_nope") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
    assert kind(call(server, "terminals/resize", terminal_id="nope", cols=10, rows=10)) == "terminal_not_found"
    assert kind(call(server, "terminals/close", terminal_id="nope")) == "terminal_not_found"
    zero = server.rpc("terminals/resize", {"terminal_id": t["terminal_id"], "cols": 0, "rows": 5})
    assert zero["error"]["code"] == -32602
    assert server.rpc("terminals/open", {"cols": "wide"})["error"]["code"] == -32602
    assert server.rpc("terminals/open", {"command": []})["error"]["code"] == -32602
    assert kind(call(server, "terminals/open", command=["/no/such/shell"])) == "spawn_failed"
    assert kind(call(server, "terminals/open", command=BASH, cwd="/no/such/dir")) == "spawn_failed"
    call(server, "terminals/close", terminal_id=t["terminal_id"])
    assert server.proc.poll() is None


async def test_the_python_sdk(server) -> None:  # type: ignore[no-untyped-def]
    from sandbox_agent.client import SandboxAgent

    async with await SandboxAgent.connect(server.url, server.token) as client:
        t = await client.open_terminal(BASH, cols=90, rows=30)
        ws = await client.terminal_socket(t.terminal_id)
        try:
            await ws.send(b"stty size\n")
            await read_until(ws, rb"[\r\n]30 90\r\n")
        finally:
            await ws.close()
        assert (await client.resize_terminal(t.terminal_id, 100, 50)).cols == 100
        assert [x.terminal_id for x in await client.list_terminals()] == [t.terminal_id]
        assert (await client.close_terminal(t.terminal_id)).status == "exited"


async def test_exit_is_seen_without_pidfd(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels or syscall filters without pidfd_open: the terminal polls for its child's exit instead."""
    import os

    from sandbox_agent.terminals.terminal import Terminal

    def no_pidfd(pid: int) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    term = Terminal(["sh", "-c", "echo bye; exit 7"], "/", dict(os.environ), 80, 24, 1024)
    await asyncio.wait_for(term.exited.wait(), 5)
    assert term.exit_code == 7 and term.info().status == "exited"
    await term.close()
    assert b"bye" in term.scrollback.snapshot()
