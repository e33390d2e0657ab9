"""Every way in speaks the same API: stdio NDJSON, WebSocket, HTTP POST, SSE, health."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from sandbox_agent.client import SandboxAgent

pytestmark = pytest.mark.anyio


def test_stdio_raw_ndjson_keeps_stdout_clean(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"client_info": {"name": "raw"}}},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "sessions/create",
            "params": {"agent": "mock", "session_id": "s1"},
        },
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "sessions/prompt",
            "params": {"session_id": "s1", "message": "hi"},
        },
    ]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\nnot json at all\n"
    out = subprocess.run(
        [sys.executable, "-m", "sandbox_agent", "stdio", "--state-dir", str(tmp_path)],
        input=stdin.encode(),
        capture_output=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr.decode()
    replies = [json.loads(line) for line in out.stdout.decode().splitlines()]  # every stdout line is JSON
    by_id = {r.get("id"): r for r in replies}
    assert by_id[1]["result"]["server_info"]["name"] == "sandbox-agent"
    assert by_id[3]["result"]["text"] == "You said: hi"
    assert by_id[None]["error"]["code"] == -32700
    assert b"stdio ready" in out.stderr


async def test_websocket_raw_and_subprotocol(server) -> None:  # type: ignore[no-untyped-def]
    url = server.url.replace("http", "ws") + "/v1/rpc"
    async with connect(url, additional_headers=server.headers(), subprotocols=["sandbox-agent.v1"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "sandbox-agent.v1"
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sessions/create", "params": {"agent": "mock"}}))
        created = json.loads(await ws.recv())
        sid = created["result"]["session_id"]
        await ws.send(
            json.dumps({"jsonrpc": "2.0", "id": 2, "method": "sessions/subscribe", "params": {"session_id": sid}})
        )
        await ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 3,
                    "method": "sessions/send_message",
                    "params": {"session_id": sid, "message": "hello"},
                }
            )
        )
        seen = []
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if msg.get("method") == "sessions/event":
                seen.append(msg["params"]["event"])
                if msg["params"]["event"]["type"] == "turn.ended":
                    break
        assert [e["sequence"] for e in seen] == list(range(1, len(seen) + 1))


async def test_sse_replays_and_follows(server) -> None:  # type: ignore[no-untyped-def]
    client = await SandboxAgent.connect(server.url, server.token)
    s = await client.create_session("mock")
    await s.prompt("first")
    events: list[dict] = []
    ids: list[int] = []

    async def read_sse() -> None:
        async with (
            httpx.AsyncClient(timeout=20) as http,
            http.stream(
                "GET", f"{server.url}/v1/sessions/{s.id}/events/sse?offset=2", headers=server.headers()
            ) as resp,
        ):
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            async for line in resp.aiter_lines():
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
                elif line.startswith("data: "):
                    events.append(orjson.loads(line[6:]))
                    if events[-1]["type"] == "session.ended":
                        return

    reader = asyncio.ensure_future(read_sse())
    await asyncio.sleep(0.3)
    await s.prompt("second")
    await s.terminate()
    await asyncio.wait_for(reader, 20)
    assert ids == [e["sequence"] for e in events] == list(range(3, 3 + len(events)))
    await client.close()
    # Last-Event-ID resumes; unknown sessions and bad offsets are clear errors
    async with httpx.AsyncClient(timeout=10) as http:
        h = {**server.headers(), "last-event-id": str(ids[-2])}
        r = await http.get(f"{server.url}/v1/sessions/{s.id}/events/sse", headers=h)
        assert r.text.count("data: ") == 1
        r = await http.get(f"{server.url}/v1/sessions/nope/events/sse", headers=server.headers())
        assert r.status_code == 404 and r.json()["error"]["data"]["kind"] == "session_not_found"
        r = await http.get(f"{server.url}/v1/sessions/{s.id}/events/sse?offset=abc", headers=server.headers())
        assert r.status_code == 400


def test_health(server) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(server.url + "/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["journal"] == "ok"


async def test_ws_client_reconnects_and_resumes_from_last_sequence(server_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(state_dir=tmp_path / "st")
    client = await SandboxAgent.connect(srv.url, srv.token, reconnect_timeout=30)
    s = await client.create_session("mock", session_id="keep")
    await s.prompt("one")
    seqs: list[int] = []
    async with contextlib.aclosing(s.events()) as it:
        async for e in it:
            seqs.append(e.sequence)
            if len(seqs) == 3:
                break
    # drop the socket under the client; the next call reconnects by itself
    assert client._transport is not None
    await client._transport.close()  # type: ignore[union-attr]
    await asyncio.sleep(0.1)
    info = await client.get_session("keep")
    assert info.event_count >= 6
    async with contextlib.aclosing(s.events(offset=seqs[-1])) as it:
        async for e in it:
            seqs.append(e.sequence)
            if e.type == "turn.ended":
                break
    assert seqs == list(range(1, len(seqs) + 1))
    await client.close()
