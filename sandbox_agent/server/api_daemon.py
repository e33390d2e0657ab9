"""`daemon/listen`: one more HTTP face for the running daemon, for as long as the asking client stays.

`sandbox-agent server` on a state dir that another daemon owns uses it: instead of being refused, it makes the
owner listen on the requested address and stays in the foreground; when it exits, that listener closes and the
owner (and every session) carries on.
"""

from __future__ import annotations

import contextlib

from pydantic import BaseModel, ConfigDict, Field

from ..rpc.errors import AppError
from ..schema.errors import ErrorKind
from .api import api
from .client_context import ClientContext


class ListenParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=2468, ge=0, le=65535, description="0 picks a free port")
    token: str | None = Field(default=None, description="bearer token this listener requires")
    no_token: bool = Field(default=False, description="serve without a token, on purpose (loopback needs neither)")


class ListenResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str


@api.method("daemon/listen", ListenParams, ListenResult, "Serve HTTP/WebSocket on one more address while you stay.")
async def daemon_listen(p: ListenParams, ctx: ClientContext) -> ListenResult:
    from .run import InsecureBind, check_bind, start_http

    if ctx.connection is None:
        raise AppError(ErrorKind.NOT_SUPPORTED, "daemon/listen needs a lasting connection (the unix socket or stdio)")
    try:
        check_bind(p.host, p.token, p.no_token)
    except InsecureBind as exc:
        raise AppError(ErrorKind.UNAUTHORIZED, str(exc)) from None
    try:
        server, task = await start_http(ctx.daemon, p.host, p.port, p.token, extra_listener=True)
    except OSError as exc:
        raise AppError(ErrorKind.NOT_SUPPORTED, f"cannot listen on {p.host}:{p.port}: {exc.strerror or exc}") from None
    sock = server.servers[0].sockets[0] if server.servers and server.servers[0].sockets else None
    port = sock.getsockname()[1] if sock is not None else p.port
    shown = f"[{p.host}]" if ":" in p.host else p.host
    url = f"http://{shown}:{port}"

    ctx.daemon.address.setdefault("http", url)
    ctx.daemon.write_pid_file()

    async def stop() -> None:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        if ctx.daemon.address.get("http") == url:
            del ctx.daemon.address["http"]
            ctx.daemon.write_pid_file()

    ctx.cleanups.append(stop)
    return ListenResult(url=url)
