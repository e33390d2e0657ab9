"""The `terminals/*` methods, registered on the API dispatcher; the bytes flow over /v1/terminals/{id}."""

from __future__ import annotations

from ..schema.methods import EmptyParams
from ..schema.terminals import (
    TerminalIdParams,
    TerminalInfo,
    TerminalListResult,
    TerminalOpenParams,
    TerminalOpenResult,
    TerminalResizeParams,
)
from .api import api
from .client_context import ClientContext


@api.method("terminals/open", TerminalOpenParams, TerminalOpenResult, "Start a shell or command on a new PTY.")
async def terminals_open(p: TerminalOpenParams, ctx: ClientContext) -> TerminalOpenResult:
    term = ctx.daemon.terminals.open(p)
    return TerminalOpenResult(terminal_id=term.id, pid=term.pid, websocket_path=f"/v1/terminals/{term.id}")


@api.method("terminals/resize", TerminalResizeParams, TerminalInfo, "Set the PTY size; the program gets SIGWINCH.")
async def terminals_resize(p: TerminalResizeParams, ctx: ClientContext) -> TerminalInfo:
    term = ctx.daemon.terminals.get(p.terminal_id)
    term.resize(p.cols, p.rows)
    return term.info()


@api.method("terminals/close", TerminalIdParams, TerminalInfo, "End the terminal and every process in its session.")
async def terminals_close(p: TerminalIdParams, ctx: ClientContext) -> TerminalInfo:
    return (await ctx.daemon.terminals.close(p.terminal_id)).info()


@api.method("terminals/list", EmptyParams, TerminalListResult, "Open terminals (running or exited, not closed).")
async def terminals_list(p: EmptyParams, ctx: ClientContext) -> TerminalListResult:
    return TerminalListResult(terminals=[t.info() for t in ctx.daemon.terminals.terminals.values()])
