"""With a token nothing but /v1/health answers without it; open binds are refused off loopback."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from sandbox_agent.client import SandboxAgent
from sandbox_agent.schema.wire import token_subprotocol
from sandbox_agent.server.run import InsecureBind, check_bind

pytestmark = pytest.mark.anyio
BODY = {"jsonrpc": "2.0", "id": 1, "method": "sessions/list"}


def test_http_needs_the_token(server) -> None:  # type: ignore[no-untyped-def]
    url = server.url + "/v1/rpc"
    assert httpx.post(url, json=BODY).status_code == 401
    wrong = httpx.post(url, json=BODY, headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["data"]["kind"] == "unauthorized"
    assert httpx.post(url, json=BODY, headers={"authorization": "Basic dGVzdC10b2tlbg=="}).status_code == 401
    assert httpx.post(url, json=BODY, headers=server.headers()).json()["result"] == []
    assert httpx.get(server.url + "/v1/health").status_code == 200
    sse = httpx.get(server.url + "/v1/sessions/x/events/sse")
    assert sse.status_code == 401


async def test_websocket_needs_the_token(server) -> None:  # type: ignore[no-untyped-def]
    url = server.url.replace("http", "ws") + "/v1/rpc"
    with pytest.raises(InvalidStatus):
        async with connect(url):
            pass
    with pytest.raises(InvalidStatus):
        async with connect(url, additional_headers={"authorization": "Bearer wrong"}):
            pass
    with pytest.raises(InvalidStatus):
        async with connect(url, subprotocols=[token_subprotocol("wrong"), "sandbox-agent.v1"]):  # type: ignore[list-item]
            pass
    # the browser form: token as a subprotocol; the server picks the plain one and never echoes the token
    protos = [token_subprotocol(server.token), "sandbox-agent.v1"]
    async with connect(url, subprotocols=protos) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "sandbox-agent.v1"
        await ws.send('{"jsonrpc":"2.0","id":1,"method":"sessions/list"}')
        assert "result" in await ws.recv()
    with pytest.raises(Exception):  # noqa: B017 - the SDK surfaces the refused handshake
        await SandboxAgent.connect(server.url, "wrong", reconnect=False)


def test_bind_policy() -> None:
    check_bind("127.0.0.1", None, False)
    check_bind("::1", None, False)
    check_bind("0.0.0.0", "t", False)
    check_bind("0.0.0.0", None, True)
    with pytest.raises(InsecureBind):
        check_bind("0.0.0.0", None, False)
    with pytest.raises(InsecureBind):
        check_bind("10.1.2.3", None, False)
    with pytest.raises(InsecureBind):
        check_bind("127.0.0.1", "t", True)


def test_cli_refuses_open_non_loopback_bind() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sandbox_agent", "server", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 1
    assert b"refusing to listen on 0.0.0.0 without a token" in out.stderr
    assert b"Traceback" not in out.stderr


def test_token_never_logged(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(token="s3cret-t0ken-value", extra=["--log-level", "debug"])
    httpx.post(srv.url + "/v1/rpc", json=BODY, headers={"authorization": "Bearer s3cret-t0ken-value"})
    httpx.post(srv.url + "/v1/rpc", json=BODY, headers={"authorization": "Bearer wrong-guess"})
    srv.stop()
    assert srv.proc.stderr is not None
    logged = "".join(srv.stderr_lines) + (srv.proc.stderr.read() or b"").decode()
    assert "s3cret-t0ken-value" not in logged and "wrong-guess" not in logged
