"""JSON-RPC 2.0 compliance, against the real dispatcher in-process and over a real HTTP server."""

from __future__ import annotations

import json

import httpx
import orjson
import pytest

from sandbox_agent.rpc.dispatcher import Dispatcher
from sandbox_agent.schema.methods import SessionIdParams

pytestmark = pytest.mark.anyio


def make_dispatcher() -> Dispatcher[None]:
    d: Dispatcher[None] = Dispatcher()

    @d.method("echo", SessionIdParams, SessionIdParams, "echo")
    async def echo(p: SessionIdParams, ctx: None) -> SessionIdParams:
        return p

    @d.method("boom", SessionIdParams, None, "fails")
    async def boom(p: SessionIdParams, ctx: None) -> None:
        raise RuntimeError("kaboom")

    return d


async def call(d: Dispatcher[None], raw: str) -> object:
    reply = await d.handle_bytes(raw.encode(), None)
    return None if reply is None else orjson.loads(reply)


async def test_spec_examples() -> None:
    d = make_dispatcher()
    ok = await call(d, '{"jsonrpc":"2.0","method":"echo","params":{"session_id":"a"},"id":7}')
    assert ok == {"jsonrpc": "2.0", "id": 7, "result": {"session_id": "a"}}
    assert await call(d, '{"jsonrpc":"2.0","method":"echo","params":{"session_id":"a"}}') is None  # notification
    parse = await call(d, '{"jsonrpc":"2.0","method":"echo","params":"bar","baz]')
    assert parse["error"]["code"] == -32700 and parse["id"] is None  # type: ignore[index]
    inv = await call(d, '{"jsonrpc":"2.0","method":1,"params":"bar"}')
    assert inv["error"]["code"] == -32600  # type: ignore[index]
    assert (await call(d, "[]"))["error"]["code"] == -32600  # type: ignore[index]
    bad_batch = await call(d, "[1,2,3]")
    assert [r["error"]["code"] for r in bad_batch] == [-32600] * 3  # type: ignore[union-attr,index]
    missing = await call(d, '{"jsonrpc":"2.0","method":"nope","id":"x"}')
    assert missing["error"]["code"] == -32601 and missing["id"] == "x"  # type: ignore[index]
    wrong_version = await call(d, '{"jsonrpc":"1.0","method":"echo","id":1}')
    assert wrong_version["error"]["code"] == -32600  # type: ignore[index]
    bad_id = await call(d, '{"jsonrpc":"2.0","method":"echo","id":{"a":1}}')
    assert bad_id["error"]["code"] == -32600 and bad_id["id"] is None  # type: ignore[index]


async def test_mixed_batch_gets_per_element_answers() -> None:
    d = make_dispatcher()
    batch = [
        {"jsonrpc": "2.0", "method": "echo", "params": {"session_id": "1"}, "id": "1"},
        {"jsonrpc": "2.0", "method": "echo", "params": {"session_id": "n"}},
        {"jsonrpc": "2.0", "method": "echo", "params": {"session_id": 5}, "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "nope", "id": "5"},
        {"jsonrpc": "2.0", "method": "boom", "params": {"session_id": "z"}, "id": "9"},
    ]
    replies = await call(d, json.dumps(batch))
    by_id = {r["id"]: r for r in replies}  # type: ignore[union-attr]
    assert len(replies) == 5  # type: ignore[arg-type]
    assert by_id["1"]["result"] == {"session_id": "1"}
    assert by_id["2"]["error"]["code"] == -32602
    assert by_id["2"]["error"]["data"]["errors"][0]["loc"] == ["session_id"]
    assert by_id[None]["error"]["code"] == -32600
    assert by_id["5"]["error"]["code"] == -32601
    assert by_id["9"]["error"]["code"] == -32603 and "kaboom" in by_id["9"]["error"]["data"]["detail"]
    only_notifications = [{"jsonrpc": "2.0", "method": "echo", "params": {"session_id": "n"}}] * 2
    assert await call(d, json.dumps(only_notifications)) is None


async def test_params_must_be_by_name() -> None:
    d = make_dispatcher()
    r = await call(d, '{"jsonrpc":"2.0","method":"echo","params":["a"],"id":1}')
    assert r["error"]["code"] == -32602  # type: ignore[index]
    extra = await call(d, '{"jsonrpc":"2.0","method":"echo","params":{"session_id":"a","bogus":1},"id":1}')
    assert extra["error"]["code"] == -32602  # type: ignore[index]


def test_http_post_compliance_and_app_errors(server) -> None:  # type: ignore[no-untyped-def]
    h = {**server.headers(), "content-type": "application/json"}
    url = server.url + "/v1/rpc"
    r = httpx.post(url, content=b"{not json", headers=h)
    assert r.status_code == 200 and r.json()["error"]["code"] == -32700
    r = httpx.post(url, content=b'{"jsonrpc":"2.0","method":"agents/list"}', headers=h)
    assert r.status_code == 204
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "agents/list"},
        {"jsonrpc": "2.0", "id": 2, "method": "sessions/get", "params": {"session_id": "nope"}},
        {"jsonrpc": "2.0", "id": 3, "method": "sessions/create", "params": {"agent": "nobody"}},
        {"jsonrpc": "2.0", "id": 4, "method": "sessions/create", "params": {"agent": 12}},
    ]
    replies = {x["id"]: x for x in httpx.post(url, json=batch, headers=h).json()}
    assert replies[1]["result"]["agents"][0]["id"] == "mock"
    assert replies[2]["error"]["code"] == -32001 and replies[2]["error"]["data"]["kind"] == "session_not_found"
    assert replies[3]["error"]["data"]["kind"] == "agent_not_found"
    assert -32099 <= replies[3]["error"]["code"] <= -32000
    assert replies[4]["error"]["code"] == -32602
    sub = server.rpc("sessions/subscribe", {"session_id": "x"})
    assert sub["error"]["data"]["kind"] in ("not_supported", "session_not_found")


def test_rpc_discover_is_openrpc_from_the_models(server) -> None:  # type: ignore[no-untyped-def]
    doc = server.rpc("rpc.discover")["result"]
    assert doc["openrpc"].startswith("1.")
    names = {m["name"] for m in doc["methods"]}
    assert {
        "initialize",
        "agents/list",
        "agents/install",
        "sessions/create",
        "sessions/list",
        "sessions/get",
        "sessions/send_message",
        "sessions/prompt",
        "sessions/events",
        "sessions/subscribe",
        "sessions/unsubscribe",
        "sessions/interrupt",
        "sessions/terminate",
        "permissions/reply",
        "questions/reply",
        "questions/reject",
    } <= names
    create = next(m for m in doc["methods"] if m["name"] == "sessions/create")
    pm = next(p for p in create["params"] if p["name"] == "permission_mode")
    assert set(pm["schema"]["enum"]) == {"default", "plan", "accept_edits", "bypass"}
    assert "UniversalEvent" in doc["components"]["schemas"]
