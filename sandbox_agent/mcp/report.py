"""What an orchestrating agent gets back from a turn: final text, a compact summary, and what waits on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from .backend import Backend

Progress = Callable[[int, str], Awaitable[None]]


class Pending(BaseModel):
    kind: Literal["permission", "question"]
    id: str = Field(description="pass to reply_permission / answer_question")
    action: str | None = Field(default=None, description="what the agent wants to do (permissions)")
    prompt: str | None = Field(default=None, description="the question (questions)")
    options: list[str] = Field(default_factory=list)
    details: Any = None


class TurnReport(BaseModel):
    session_id: str
    turn_id: str | None
    status: Literal["completed", "awaiting_input", "running", "ended"] = Field(
        description="completed: the turn ended; awaiting_input: answer `pending`; running: still going after the "
        "timeout (call get_events or wait again); ended: the session is over"
    )
    stop_reason: str | None = None
    text: str = Field(default="", description="the agent's final assistant text in this turn")
    tool_calls: list[str] = Field(default_factory=list)
    commands: list[str] = Field(default_factory=list)
    file_changes: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    pending: list[Pending] = Field(default_factory=list)
    next_offset: int = Field(description="events up to here are summarised; pass to get_events for more")


def _summarise(report: TurnReport, event: dict[str, Any]) -> str | None:
    etype, data = event["type"], event.get("data") or {}
    if etype == "item.completed":
        item = data["item"]
        kind, content = item["kind"], item.get("content") or []
        if kind == "message" and item.get("role") == "assistant":
            report.text = "".join(p.get("text", "") for p in content if p.get("type") == "text")
            return "message"
        if kind == "tool_call":
            for p in content:
                if p.get("type") == "tool_call":
                    server = f"{p['server']}." if p.get("server") else ""
                    report.tool_calls.append(f"{server}{p['name']} ({item['status']})")
            return "tool call"
        if kind == "command":
            for p in content:
                if p.get("type") == "command":
                    report.commands.append(f"{p['command']} -> exit {p.get('exit_code')}")
            return "command"
        if kind == "file_change":
            report.file_changes += [f"{p['path']} ({p['action']})" for p in content if p.get("type") == "file_ref"]
            return "file change"
    elif etype == "error":
        report.errors.append(str(data.get("message")))
    return None


async def wait_turn(
    backend: Backend, session_id: str, offset: int, turn_id: str | None, timeout: float, progress: Progress | None
) -> TurnReport:
    """Follow the session from `offset` until the turn ends, the agent waits for an answer, or `timeout` passes."""
    report = TurnReport(session_id=session_id, turn_id=turn_id, status="running", next_offset=offset)
    pending: dict[str, Pending] = {}
    items = 0

    async def follow() -> None:
        nonlocal items
        async for event in backend.events(session_id, offset):
            report.next_offset = event["sequence"]
            etype, data = event["type"], event.get("data") or {}
            if _summarise(report, event) and progress is not None:
                items += 1
                await progress(items, f"{items} items")
            if etype == "permission.requested":
                pending[data["permission_id"]] = Pending(
                    kind="permission", id=data["permission_id"], action=data.get("action"), details=data.get("metadata")
                )
            elif etype == "question.requested":
                pending[data["question_id"]] = Pending(
                    kind="question",
                    id=data["question_id"],
                    prompt=data.get("prompt"),
                    options=data.get("options") or [],
                    details=data.get("questions"),
                )
            elif etype in ("permission.resolved", "question.resolved"):
                pending.pop(data.get("permission_id") or data.get("question_id"), None)
            elif etype == "turn.ended" and (turn_id is None or data.get("turn_id") == turn_id):
                report.status, report.stop_reason = "completed", data.get("stop_reason")
                return
            elif etype == "session.ended":
                report.status = "ended"
                return
            if pending:
                report.status = "awaiting_input"
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(follow(), timeout)
    report.pending = list(pending.values())
    return report
