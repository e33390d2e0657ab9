"""Pure translation of `opencode serve` SSE events (one session's) into universal events.

The user's own prompt comes back as a text part of a user message, so roles are tracked per message id. Each
model step is its own assistant message; the turn ends at `session.idle`. Tool parts move pending -> running
(with streamed output in metadata) -> completed | error; bash becomes a command item, edit/write/patch a
file_change item with a diff, anything else a tool_call item plus a tool_result item.
"""

from __future__ import annotations

from typing import Any

from ...schema.content import CommandPart, FileRefPart, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from ...schema.events import (
    AgentUnparsedData,
    ErrorData,
    PermissionData,
    QuestionData,
    TurnEndedData,
    Usage,
)
from ...schema.items import ItemKind
from ..emission import Emission, IdFactory, OpenItems, question_request

IGNORED = frozenset(
    {
        "server.connected",
        "server.heartbeat",
        "session.created",
        "session.updated",
        "session.diff",
        "plugin.added",
        "catalog.updated",
        "reference.updated",
        "integration.updated",
        "file.edited",
        "file.watcher.updated",
        "message.removed",
        "message.part.removed",
        "session.compacted",
        "todo.updated",
        "lsp.updated",
        "lsp.client.diagnostics",
        "installation.updated",
        "vcs.branch.updated",
        "session.deleted",
    }
)
TRANSLATED = frozenset(
    {
        "message.updated",
        "message.part.updated",
        "message.part.delta",
        "session.status",
        "session.idle",
        "session.error",
        "permission.asked",
        "permission.replied",
        "question.asked",
        "question.replied",
        "question.rejected",
    }
)
FILE_TOOLS = {"write": "write", "edit": "patch", "patch": "patch", "multiedit": "patch"}


def session_of(event: dict[str, Any]) -> str | None:
    """Which OpenCode session an event belongs to, wherever the event keeps it."""
    props = event.get("properties") or {}
    return (
        props.get("sessionID")
        or (props.get("info") or {}).get("sessionID")
        or (props.get("part") or {}).get("sessionID")
    )


def _tool_kind(tool: str) -> ItemKind:
    if tool == "bash":
        return "command"
    return "file_change" if tool in FILE_TOOLS else "tool_call"


def _file_part(tool: str, state: dict[str, Any]) -> FileRefPart:
    args = state.get("input") or {}
    meta = state.get("metadata") or {}
    path = meta.get("filepath") or args.get("filePath") or args.get("path") or ""
    diff = meta.get("diff")
    if diff is None and tool == "write" and "content" in args:
        lines = str(args["content"]).splitlines()
        diff = f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{ln}\n" for ln in lines)
    return FileRefPart(path=str(path), action=FILE_TOOLS.get(tool, "patch"), diff=diff)  # type: ignore[arg-type]


class OpenCodeTranslator:
    def __init__(self, new_id: IdFactory) -> None:
        self.items = OpenItems(new_id)
        self.turn_id: str | None = None
        self.aborting = False
        self._roles: dict[str, str] = {}
        self._streamed: dict[str, int] = {}  # part id -> characters already sent as deltas
        self._usage = Usage(
            input_tokens=0, output_tokens=0, reasoning_tokens=0, cached_input_tokens=0, total_cost_usd=0.0
        )
        self._stop: str | None = None
        self.pending: dict[str, PermissionData | QuestionData] = {}

    def translate(self, event: dict[str, Any]) -> list[Emission]:
        etype = event.get("type", "")
        if etype in IGNORED:
            return []
        props = event.get("properties") or {}
        try:
            if etype == "message.updated":
                info = props["info"]
                self._roles[info["id"]] = info.get("role", "")
                if info.get("role") == "assistant" and info.get("modelID"):
                    self._usage.model = str(info["modelID"])
                return []
            if etype == "message.part.updated":
                return self._part(props["part"])
            if etype == "message.part.delta":
                return self._delta(props)
            if etype == "session.status":
                status = props.get("status") or {}
                if status.get("type") == "retry":
                    return [
                        Emission(
                            "error",
                            ErrorData(
                                message=str(status.get("message", "retrying")),
                                code="retry",
                                details={"attempt": status.get("attempt"), "will_retry": True},
                            ),
                        )
                    ]
                return []
            if etype == "session.idle":
                return self._idle()
            if etype == "session.error":
                return self._error(props.get("error") or {})
            if etype == "permission.asked":
                return self._permission(props)
            if etype == "permission.replied":
                return self._resolved(props.get("requestID", ""), reply=props.get("reply"))
            if etype == "question.asked":
                return self._question(props)
            if etype in ("question.replied", "question.rejected"):
                return self._resolved(
                    props.get("requestID", ""), answers=props.get("answers"), rejected=etype == "question.rejected"
                )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return [Emission("agent.unparsed", AgentUnparsedData(error=f"{type(exc).__name__}: {exc}", location=etype))]
        return [Emission("agent.unparsed", AgentUnparsedData(error=f"unknown event {etype!r}", location="sse"))]

    # parts

    def _part(self, part: dict[str, Any]) -> list[Emission]:
        ptype, pid = part.get("type"), part["id"]
        if ptype in ("text", "reasoning"):
            if self._roles.get(part.get("messageID", "")) == "user" or part.get("synthetic"):
                return []  # the user's own prompt echoed back
            out: list[Emission] = []
            if self.items.get(pid) is None and pid not in self._streamed:
                out.append(self.items.start(pid, "reasoning" if ptype == "reasoning" else "message", "assistant"))
                self._streamed[pid] = 0
            if (part.get("time") or {}).get("end") is not None:
                text = part.get("text", "")
                if len(text) > self._streamed.get(pid, 0):
                    d = self.items.delta(pid, text[self._streamed.get(pid, 0) :], synthetic=True)
                    if d:
                        out.append(d)
                content = ReasoningPart(text=text) if ptype == "reasoning" else TextPart(text=text)
                done = self.items.complete(pid, [content])
                if done:
                    out.append(done)
            return out
        if ptype == "tool":
            return self._tool(part)
        if ptype == "step-finish":
            tokens = part.get("tokens") or {}
            u = self._usage
            cache = tokens.get("cache") or {}
            cached, written = int(cache.get("read") or 0), int(cache.get("write") or 0)
            # OpenCode's `input` leaves out cache reads and writes; ours counts every prompt token
            u.input_tokens = (u.input_tokens or 0) + int(tokens.get("input") or 0) + cached + written
            u.output_tokens = (u.output_tokens or 0) + int(tokens.get("output") or 0)
            u.reasoning_tokens = (u.reasoning_tokens or 0) + int(tokens.get("reasoning") or 0)
            u.cached_input_tokens = (u.cached_input_tokens or 0) + cached
            u.total_cost_usd = (u.total_cost_usd or 0.0) + float(part.get("cost") or 0)
            return []
        if ptype in ("step-start", "patch", "snapshot", "agent", "file", "compaction", "retry"):
            return []
        return [Emission("agent.unparsed", AgentUnparsedData(error=f"unknown part type {ptype!r}", location="part"))]

    def _delta(self, props: dict[str, Any]) -> list[Emission]:
        pid = props.get("partID", "")
        if props.get("field") != "text" or self.items.get(pid) is None:
            return []
        text = props.get("delta", "")
        self._streamed[pid] = self._streamed.get(pid, 0) + len(text)
        d = self.items.delta(pid, text)
        return [d] if d else []

    def _tool(self, part: dict[str, Any]) -> list[Emission]:
        tool, call_id, pid = part.get("tool", ""), part.get("callID", ""), part["id"]
        state = part.get("state") or {}
        status = state.get("status")
        kind = _tool_kind(tool)
        out: list[Emission] = []
        if self.items.get(pid) is None:
            if pid in self._streamed:
                return []  # finished already; a late repeat
            self._streamed[pid] = 0
            out.append(self.items.start(pid, kind, "assistant", self._content(kind, tool, call_id, state)))
        if status == "running":
            output = str((state.get("metadata") or {}).get("output") or "")
            if len(output) > self._streamed.get(pid, 0):
                d = self.items.delta(pid, output[self._streamed[pid] :])
                self._streamed[pid] = len(output)
                if d:
                    out.append(d)
            item = self.items.get(pid)
            if item is not None:
                item.content = self._content(kind, tool, call_id, state)
            return out
        if status in ("completed", "error"):
            failed = status == "error"
            content = self._content(kind, tool, call_id, state)
            result_text = state.get("error") if failed else state.get("output")
            if kind == "tool_call" or failed:
                content.append(ToolResultPart(call_id=call_id, output=result_text, is_error=failed))
            done = self.items.complete(pid, content, "failed" if failed else "completed")
            if done:
                out.append(done)
        return out

    @staticmethod
    def _content(kind: ItemKind, tool: str, call_id: str, state: dict[str, Any]) -> list[Any]:
        args = state.get("input") or {}
        if kind == "command":
            meta = state.get("metadata") or {}
            output = state.get("output") if state.get("status") == "completed" else meta.get("output")
            return [CommandPart(command=str(args.get("command", "")), exit_code=meta.get("exit"), output=output)]
        if kind == "file_change":
            return [_file_part(tool, state)]
        return [ToolCallPart(name=tool, arguments=args, call_id=call_id)]

    # turn and errors

    def _idle(self) -> list[Emission]:
        if self.turn_id is None:
            return []  # the duplicate idle after an abort or error
        out = self.items.fail_all()
        stop = self._stop or ("interrupted" if self.aborting else "end_turn")
        out.append(Emission("turn.ended", TurnEndedData(turn_id=self.turn_id, stop_reason=stop, usage=self._usage)))  # type: ignore[arg-type]
        self.turn_id, self._stop, self.aborting = None, None, False
        self._usage = Usage(
            input_tokens=0, output_tokens=0, reasoning_tokens=0, cached_input_tokens=0, total_cost_usd=0.0
        )
        return out

    def _error(self, error: dict[str, Any]) -> list[Emission]:
        name = error.get("name", "Error")
        data = error.get("data") or {}
        if name == "MessageAbortedError":
            self._stop = "interrupted"
            return []  # an abort we asked for, not a failure
        self._stop = "error"
        details = {k: data.get(k) for k in ("statusCode", "isRetryable") if k in data}
        return [
            Emission("error", ErrorData(message=str(data.get("message") or name), code=name, details=details or None))
        ]

    # human in the loop

    def _permission(self, props: dict[str, Any]) -> list[Emission]:
        meta = {
            "patterns": props.get("patterns"),
            "always": props.get("always"),
            "details": props.get("metadata"),
            "tool": props.get("tool"),
        }
        data = PermissionData(
            permission_id=props["id"],
            action=str(props.get("permission", "")),
            status="requested",
            metadata={k: v for k, v in meta.items() if v is not None},
        )
        self.pending[data.permission_id] = data
        return [Emission("permission.requested", data)]

    def _question(self, props: dict[str, Any]) -> list[Emission]:
        data = question_request(props["id"], props.get("questions") or [], "multiple")
        self.pending[data.question_id] = data
        return [Emission("question.requested", data)]

    def _resolved(
        self, request_id: str, reply: Any = None, answers: Any = None, rejected: bool = False
    ) -> list[Emission]:
        pending = self.pending.pop(request_id, None)
        if isinstance(pending, PermissionData):
            status = {"once": "accept", "always": "accept_for_session"}.get(str(reply), "reject")
            return [Emission("permission.resolved", pending.model_copy(update={"status": status}))]
        if isinstance(pending, QuestionData):
            update = {"status": "rejected"} if rejected else {"status": "answered", "response": answers}
            return [Emission("question.resolved", pending.model_copy(update=update))]
        return []
