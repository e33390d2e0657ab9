"""Bad input gets a clear error, loses nothing, and the daemon keeps serving."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from sandbox_agent.client import RpcError, SandboxAgent

pytestmark = pytest.mark.anyio


async def test_garbage_over_websocket_then_still_serving(server) -> None:  # type: ignore[no-untyped-def]
    url = server.url.replace("http", "ws") + "/v1/rpc"
    async with connect(url, additional_headers=server.headers()) as ws:
        for junk in [
            "",
            "{",
            "null",
            "42",
            '"str"',
            "[{}]",
            '{"jsonrpc":"2.0","id":1}',
            "\x00\xff",
            "[" * 5000,
        ]:
            await ws.send(junk)
            reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
            errors = reply if isinstance(reply, list) else [reply]
            assert all(e["error"]["code"] in (-32700, -32600) for e in errors), junk
        await ws.send(b'{"jsonrpc":"2.0","id":9,"method":"sessions/list"}')  # binary frames work too
        assert json.loads(await ws.recv())["id"] == 9


async def test_huge_message_is_refused_not_fatal(server) -> None:  # type: ignore[no-untyped-def]
    url = server.url.replace("http", "ws") + "/v1/rpc"
    huge = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sessions/list", "params": {"x": "a" * (17 * 1024 * 1024)}})
    async with connect(url, additional_headers=server.headers(), max_size=None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.send(huge)
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(server.url + "/v1/rpc", content=huge.encode(), headers=server.headers())
    assert r.status_code == 413 and r.json()["error"]["data"]["kind"] == "message_too_large"
    assert server.rpc("sessions/list")["result"] == []


def test_huge_line_on_stdio(tmp_path) -> None:  # type: ignore[no-untyped-def]
    huge = b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"p":"' + b"a" * (17 * 1024 * 1024) + b'"}}\n'
    after = b'{"jsonrpc":"2.0","id":2,"method":"sessions/list"}\n'
    out = subprocess.run(
        [sys.executable, "-m", "sandbox_agent", "stdio", "--ephemeral"],
        input=huge + after,
        capture_output=True,
        timeout=60,
    )
    replies = [json.loads(line) for line in out.stdout.splitlines()]
    assert replies[0]["error"]["data"]["kind"] == "message_too_large"
    assert replies[1] == {"jsonrpc": "2.0", "id": 2, "result": []}


async def test_wrong_params_and_unknown_things(ws_client: SandboxAgent) -> None:
    cases = [
        ("sessions/get", {"session_id": "missing"}, "session_not_found"),
        ("sessions/send_message", {"session_id": "missing", "message": "x"}, "session_not_found"),
        ("sessions/create", {"agent": "nobody"}, "agent_not_found"),
        ("sessions/create", {"agent": "mock", "cwd": "/does/not/exist"}, "agent_start_failed"),
        ("sessions/unsubscribe", {"subscription_id": "sub_nope"}, "subscription_not_found"),
        ("sessions/events", {"session_id": "missing"}, "session_not_found"),
    ]
    for method, params, kind in cases:
        with pytest.raises(RpcError) as exc:
            await ws_client.call(method, params)
        assert exc.value.kind == kind, method
    for method, params in [
        ("sessions/create", {"agent": ["mock"]}),
        ("sessions/events", {"session_id": "x", "offset": -1}),
        ("sessions/events", {"session_id": "x", "limit": 100000}),
        ("permissions/reply", {"session_id": "x", "permission_id": "p", "reply": "maybe"}),
        ("questions/reply", {"session_id": "x", "question_id": "q", "answers": "Red"}),
    ]:
        with pytest.raises(RpcError) as exc:
            await ws_client.call(method, params)
        assert exc.value.code == -32602 and exc.value.data["errors"], method
    s = await ws_client.create_session("mock", session_id="dup")
    with pytest.raises(RpcError) as exc:
        await ws_client.create_session("mock", session_id="dup")
    assert exc.value.kind == "session_exists"
    with pytest.raises(RpcError) as exc:
        await ws_client.call("sessions/subscribe", {"session_id": "dup", "offset": 999})
    assert exc.value.kind == "invalid_offset"
    with pytest.raises(RpcError) as exc:
        await ws_client.call("questions/reject", {"session_id": "dup", "question_id": "q9"})
    assert exc.value.kind == "question_not_found"
    assert (await s.prompt("still fine")).text == "You said: still fine"


async def test_client_disconnect_mid_turn_loses_nothing(server) -> None:  # type: ignore[no-untyped-def]
    c1 = await SandboxAgent.connect(server.url, server.token, reconnect=False)
    s = await c1.create_session("mock", session_id="dropped")
    await s.send("slow 0.5")
    await c1.close()  # gone while the turn streams
    await asyncio.sleep(1.0)
    c2 = await SandboxAgent.connect(server.url, server.token)
    events, _, _ = await c2.read_events("dropped", 0, 1000)
    assert events[-1].type == "turn.ended" and events[-1].data.stop_reason == "end_turn"  # type: ignore[union-attr]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    await c2.close()
