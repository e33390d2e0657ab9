"""The MCP facade: tools that let another agent start coding-agent sessions, give them work and answer them."""

from __future__ import annotations

from typing import Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from .. import __version__
from ..rpc.errors import RpcError
from ..schema.control import Delivery
from .backend import Backend
from .host_tools import register_host_tools
from .report import TurnReport, wait_turn
from .transcript import render_transcript

INSTRUCTIONS = (
    "Drive coding agents (Claude Code, Codex, OpenCode, Amp, or the built-in mock) in this sandbox. "
    "start_session, then send_message; when a turn reports status awaiting_input, answer its pending items with "
    "reply_permission or answer_question (they wait for the turn to go on). Read the full transcript from the "
    "sandbox-agent://sessions/{id}/transcript resource or with get_events."
)


class AgentSummary(BaseModel):
    id: str
    name: str
    installed: bool
    version: str | None = None
    coverage: dict[str, str]


class AgentList(BaseModel):
    agents: list[AgentSummary]


class SessionSummary(BaseModel):
    session_id: str
    agent: str
    status: str
    cwd: str
    native_session_id: str | None = None


class EventPage(BaseModel):
    events: list[dict[str, Any]]
    next_offset: int
    has_more: bool


class Done(BaseModel):
    ok: bool = True
    detail: str | None = None


def build_server(backend: Backend) -> MCPServer:
    server = MCPServer("sandbox-agent", version=__version__, instructions=INSTRUCTIONS)

    async def call(method: str, params: dict[str, Any]) -> Any:
        try:
            return await backend.call(method, params)
        except RpcError as exc:  # same kinds as the JSON-RPC API, readable by the calling model
            raise ToolError(f"[{exc.kind or exc.code}] {exc.message}") from None

    async def offset_of(session_id: str) -> tuple[int, str | None]:
        info = await call("sessions/get", {"session_id": session_id})
        return int(info["event_count"]), info.get("current_turn_id")

    def progress_of(ctx: Context) -> Any:
        async def report(done: int, message: str) -> None:
            await ctx.report_progress(done, None, message)

        return report

    @server.tool(description="List the coding agents this sandbox can run, with install state and feature coverage.")
    async def list_agents() -> AgentList:
        result = await call("agents/list", {})
        return AgentList(
            agents=[
                AgentSummary(
                    id=a["id"],
                    name=a["name"],
                    installed=a["installed"],
                    version=a.get("version"),
                    coverage=a["capabilities"],
                )
                for a in result["agents"]
            ]
        )

    @server.tool(description="Start a session on a coding agent (installed on demand). Returns its session_id.")
    async def start_session(
        agent: str = Field(description="claude, codex, opencode, amp or mock"),
        cwd: str | None = Field(default=None, description="working directory inside the sandbox"),
        model: str | None = None,
        permission_mode: Literal["default", "plan", "accept_edits", "bypass"] = "default",
        env: dict[str, str] | None = Field(default=None, description="e.g. API keys and base URLs for the agent"),
        ctx: Context | None = None,
    ) -> SessionSummary:
        params: dict[str, Any] = {"agent": agent, "permission_mode": permission_mode}
        for key, value in (("cwd", cwd), ("model", model), ("env", env)):
            if value is not None:
                params[key] = value
        info = await call("sessions/create", params)
        if ctx is not None:
            await _list_changed(ctx)
        return SessionSummary(
            session_id=info["session_id"],
            agent=info["agent"],
            status=info["status"],
            cwd=info["cwd"],
            native_session_id=info.get("native_session_id"),
        )

    @server.tool(
        description="Give the agent a message. With wait (default) it returns when the turn ends, when the "
        "agent needs an answer (status awaiting_input, see pending), or at the timeout."
    )
    async def send_message(
        session_id: str,
        text: str,
        wait: bool = True,
        timeout: float = Field(default=300, gt=0, description="seconds to wait"),
        delivery: Delivery = Field(
            default="reject",
            description="while a turn runs: reject (error), queue (runs after it) or steer (into the running turn)",
        ),
        ctx: Context | None = None,
    ) -> TurnReport:
        offset, _ = await offset_of(session_id)
        params = {"session_id": session_id, "message": text, "delivery": delivery}
        turn_id = (await call("sessions/send_message", params))["turn_id"]
        if not wait:
            return TurnReport(session_id=session_id, turn_id=turn_id, status="running", next_offset=offset)
        return await wait_turn(backend, session_id, offset, turn_id, timeout, progress_of(ctx) if ctx else None)

    @server.tool(description="Read the session's universal events after an offset (optionally only some types).")
    async def get_events(
        session_id: str,
        offset: int = Field(default=0, ge=0),
        limit: int = Field(default=100, ge=1, le=1000),
        types: list[str] | None = Field(default=None, description="e.g. ['item.completed', 'error']"),
    ) -> EventPage:
        page = await call("sessions/events", {"session_id": session_id, "offset": offset, "limit": limit})
        events = page["events"] if not types else [e for e in page["events"] if e["type"] in types]
        return EventPage(events=events, next_offset=page["next_offset"], has_more=page["has_more"])

    @server.tool(
        description="Answer a pending permission: once, always, or reject (with an optional message the "
        "agent sees). With wait, returns how the turn went on."
    )
    async def reply_permission(
        session_id: str,
        permission_id: str,
        reply: Literal["once", "always", "reject"],
        message: str | None = None,
        wait: bool = True,
        timeout: float = Field(default=300, gt=0),
        ctx: Context | None = None,
    ) -> TurnReport:
        offset, turn_id = await offset_of(session_id)
        await call(
            "permissions/reply",
            {"session_id": session_id, "permission_id": permission_id, "reply": reply, "message": message},
        )
        if not wait:
            return TurnReport(session_id=session_id, turn_id=turn_id, status="running", next_offset=offset)
        return await wait_turn(backend, session_id, offset, turn_id, timeout, progress_of(ctx) if ctx else None)

    @server.tool(description="Answer a pending question: one list of chosen option labels per question, or reject.")
    async def answer_question(
        session_id: str,
        question_id: str,
        answers: list[list[str]] | None = None,
        reject: bool = False,
        wait: bool = True,
        timeout: float = Field(default=300, gt=0),
        ctx: Context | None = None,
    ) -> TurnReport:
        if not reject and answers is None:
            raise ToolError("[invalid_params] give answers, or reject=true")
        offset, turn_id = await offset_of(session_id)
        if reject:
            await call("questions/reject", {"session_id": session_id, "question_id": question_id})
        else:
            await call("questions/reply", {"session_id": session_id, "question_id": question_id, "answers": answers})
        if not wait:
            return TurnReport(session_id=session_id, turn_id=turn_id, status="running", next_offset=offset)
        return await wait_turn(backend, session_id, offset, turn_id, timeout, progress_of(ctx) if ctx else None)

    @server.tool(description="Stop the agent's running turn; the session stays usable.")
    async def interrupt(session_id: str) -> Done:
        result = await call("sessions/interrupt", {"session_id": session_id})
        return Done(ok=True, detail="interrupted" if result["interrupted"] else "no turn was running")

    @server.tool(description="End the session and stop its agent. The transcript stays readable.")
    async def end_session(session_id: str, ctx: Context | None = None) -> SessionSummary:
        info = await call("sessions/terminate", {"session_id": session_id})
        if ctx is not None:
            await _list_changed(ctx)
        return SessionSummary(
            session_id=info["session_id"],
            agent=info["agent"],
            status=info["status"],
            cwd=info["cwd"],
            native_session_id=info.get("native_session_id"),
        )

    @server.resource(
        "sandbox-agent://sessions/{session_id}/transcript",
        mime_type="text/markdown",
        description="A session's transcript, rendered for reading",
    )
    async def transcript(session_id: str) -> str:
        return render_transcript(await _all_events(call, session_id), session_id)

    @server.resource(
        "sandbox-agent://sessions/{session_id}/events",
        mime_type="application/json",
        description="A session's raw universal events",
    )
    async def raw_events(session_id: str) -> list[dict[str, Any]]:
        return await _all_events(call, session_id)

    register_host_tools(server, call)
    return server


async def _all_events(call: Any, session_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = await call("sessions/events", {"session_id": session_id, "offset": offset, "limit": 1000})
        events += page["events"]
        offset = page["next_offset"]
        if not page["has_more"]:
            return events


async def _list_changed(ctx: Context) -> None:
    try:
        await ctx.session.send_resource_list_changed()
    except Exception:  # a client that cannot take notifications must not fail the tool
        pass
