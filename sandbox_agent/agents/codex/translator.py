"""Pure translation of `codex app-server` notifications and approval requests into universal events.

Item ids of commandExecution/fileChange items are the model's call ids. An interrupted command may report late
(output and completion after its turn ended): its item was already closed as failed, so late messages find no
open item and are dropped instead of leaking into the next turn.
"""

from __future__ import annotations

from typing import Any

from ...schema.content import CommandPart, FileRefPart, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from ...schema.events import AgentUnparsedData, ErrorData, PermissionData, TurnEndedData, Usage
from ..emission import Emission, IdFactory, OpenItems

# Notifications that carry nothing a client of the universal schema needs.
IGNORED = frozenset(
    {
        "thread/started",
        "thread/status/changed",
        "turn/started",
        "turn/diff/updated",
        "account/rateLimits/updated",
        "remoteControl/status/changed",
        "configWarning",
        "deprecationNotice",
        "thread/goal/cleared",
        "thread/readState/changed",
        "item/reasoning/summaryPartAdded",
        "thread/name/updated",
        "mcpServer/startupStatus/changed",
    }
)
TRANSLATED = frozenset(
    {
        "item/started",
        "item/completed",
        "item/agentMessage/delta",
        "item/reasoning/summaryTextDelta",
        "item/reasoning/textDelta",
        "item/commandExecution/outputDelta",
        "item/fileChange/outputDelta",
        "thread/tokenUsage/updated",
        "turn/completed",
        "error",
        "serverRequest/resolved",
        "item/commandExecution/requestApproval",
        "item/fileChange/requestApproval",
    }
)
DELTAS = (
    "item/agentMessage/delta",
    "item/reasoning/summaryTextDelta",
    "item/reasoning/textDelta",
    "item/commandExecution/outputDelta",
    "item/fileChange/outputDelta",
)
STOP = {"completed": "end_turn", "interrupted": "interrupted", "failed": "error"}


def _file_parts(item: dict[str, Any]) -> list[FileRefPart]:
    parts = []
    for change in item.get("changes") or []:
        kind = (change.get("kind") or {}).get("type", "update")
        parts.append(
            FileRefPart(
                path=str(change.get("path", "")), action="write" if kind == "add" else "patch", diff=change.get("diff")
            )
        )
    return parts


def _usage_delta(total: dict[str, Any], base: dict[str, Any]) -> Usage:
    """OpenAI's inputTokens already include the cached ones, as ours do."""

    def grew(key: str) -> int:
        return max(0, int(total.get(key) or 0) - int(base.get(key) or 0))

    return Usage(
        input_tokens=grew("inputTokens"),
        output_tokens=grew("outputTokens"),
        cached_input_tokens=grew("cachedInputTokens"),
        reasoning_tokens=grew("reasoningOutputTokens"),
    )


class CodexTranslator:
    def __init__(self, new_id: IdFactory) -> None:
        self.items = OpenItems(new_id)
        self.turn_id: str | None = None
        self.native_turn_id: str | None = None
        self._usage: Usage | None = None
        self._thread_total: dict[str, Any] = {}  # the latest tokenUsage.total of the thread
        self._turn_base: dict[str, Any] | None = None  # that total when this turn's first update came
        self._errors_this_turn = 0
        self._text: dict[str, list[str]] = {}
        self.pending: dict[str, PermissionData] = {}

    def translate(self, method: str, params: dict[str, Any]) -> list[Emission]:
        if method in IGNORED:
            return []
        try:
            if method == "item/started":
                return self._started(params["item"])
            if method == "item/completed":
                return self._completed(params["item"])
            if method in DELTAS:
                item_id = params["itemId"]
                self._text.setdefault(item_id, []).append(params.get("delta", ""))
                d = self.items.delta(item_id, params.get("delta", ""))
                return [d] if d else []
            if method == "thread/tokenUsage/updated":
                # `last` is one model call, `total` the thread so far (captures: two calls in a tool turn, and
                # the old total replayed after thread/resume); a turn's usage is the growth of `total`.
                total = (params.get("tokenUsage") or {}).get("total") or {}
                if self.turn_id is not None:
                    if self._turn_base is None:
                        self._turn_base = self._thread_total
                    self._usage = _usage_delta(total, self._turn_base)
                self._thread_total = total
                return []
            if method == "error":
                return self._error(params)
            if method == "turn/completed":
                return self._turn_completed(params["turn"])
            if method == "serverRequest/resolved":
                pending = self.pending.pop(str(params.get("requestId")), None)
                if pending is None:
                    return []
                update = {"status": "reject", "message": "resolved by codex (the turn moved on)"}
                return [Emission("permission.resolved", pending.model_copy(update=update))]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return [
                Emission("agent.unparsed", AgentUnparsedData(error=f"{type(exc).__name__}: {exc}", location=method))
            ]
        return [
            Emission(
                "agent.unparsed", AgentUnparsedData(error=f"unknown notification {method!r}", location="app-server")
            )
        ]

    def approval(self, request_id: Any, method: str, params: dict[str, Any]) -> list[Emission]:
        """A server->client approval request becomes permission.requested (id = the JSON-RPC request id)."""
        if method == "item/commandExecution/requestApproval":
            action = "command"
            meta = {
                "command": params.get("command"),
                "cwd": params.get("cwd"),
                "reason": params.get("reason"),
                "item_id": params.get("itemId"),
                "decisions": params.get("availableDecisions"),
            }
        elif method == "item/fileChange/requestApproval":
            action = "file_change"
            item = self.items.get(params.get("itemId", ""))
            paths = [p.path for p in item.content if isinstance(p, FileRefPart)] if item else []
            meta = {
                "item_id": params.get("itemId"),
                "reason": params.get("reason"),
                "grant_root": params.get("grantRoot"),
                "paths": paths,
            }
        else:
            return [
                Emission(
                    "agent.unparsed",
                    AgentUnparsedData(error=f"unknown server request {method!r}", location="app-server"),
                )
            ]
        data = PermissionData(
            permission_id=str(request_id),
            action=action,
            status="requested",
            metadata={k: v for k, v in meta.items() if v is not None},
        )
        self.pending[data.permission_id] = data
        return [Emission("permission.requested", data)]

    def _started(self, item: dict[str, Any]) -> list[Emission]:
        kind, native = item.get("type"), item.get("id", "")
        if kind == "userMessage":
            return []  # the daemon already recorded the user's message
        if kind == "agentMessage":
            return [self.items.start(native, "message", "assistant")]
        if kind == "reasoning":
            return [self.items.start(native, "reasoning", "assistant")]
        if kind == "commandExecution":
            return [
                self.items.start(native, "command", "assistant", [CommandPart(command=str(item.get("command", "")))])
            ]
        if kind == "fileChange":
            return [self.items.start(native, "file_change", "assistant", list(_file_parts(item)))]
        if kind == "mcpToolCall":
            part = ToolCallPart(
                name=str(item.get("tool", "")),
                arguments=item.get("arguments"),
                call_id=native,
                server=item.get("server"),
            )
            return [self.items.start(native, "tool_call", "assistant", [part])]
        return [
            self.items.start(
                native, "tool_call", "assistant", [ToolCallPart(name=str(kind), arguments=item, call_id=native)]
            )
        ]

    def _completed(self, item: dict[str, Any]) -> list[Emission]:
        kind, native = item.get("type"), item.get("id", "")
        if kind == "userMessage" or self.items.get(native) is None:
            return []  # ours, or late news about an item already closed with its turn
        streamed = "".join(self._text.pop(native, []))
        status = "failed" if item.get("status") in ("failed", "declined") else "completed"
        out: list[Emission] = []
        if kind == "agentMessage":
            text = item.get("text", streamed)
            out += self._synthetic(native, text, streamed)
            content: list[Any] = [TextPart(text=text)]
        elif kind == "reasoning":
            text = "\n".join(item.get("summary") or []) or streamed
            out += self._synthetic(native, text, streamed)
            content = [ReasoningPart(text=text)]
        elif kind == "commandExecution":
            output = item.get("aggregatedOutput")
            output = output if output is not None else streamed
            out += self._synthetic(native, output, streamed)
            content = [CommandPart(command=str(item.get("command", "")), exit_code=item.get("exitCode"), output=output)]
            if item.get("status") == "declined":
                content.append(ToolResultPart(call_id=native, output="declined by the user", is_error=True))
        elif kind == "fileChange":
            parts = _file_parts(item)
            out += self._synthetic(native, "".join(p.diff or "" for p in parts), streamed)
            content = list(parts)
        elif kind == "mcpToolCall":
            content = [
                ToolCallPart(
                    name=str(item.get("tool", "")),
                    arguments=item.get("arguments"),
                    call_id=native,
                    server=item.get("server"),
                ),
                ToolResultPart(
                    call_id=native,
                    output=item.get("result") or item.get("error"),
                    is_error=item.get("error") is not None,
                ),
            ]
        else:
            content = [ToolCallPart(name=str(kind), arguments=item, call_id=native)]
        done = self.items.complete(native, content, status)  # type: ignore[arg-type]
        return [*out, done] if done else out

    def _synthetic(self, native: str, text: str, streamed: str) -> list[Emission]:
        if streamed or not text:
            return []
        d = self.items.delta(native, text, synthetic=True)
        return [d] if d else []

    def _error(self, params: dict[str, Any]) -> list[Emission]:
        err = params.get("error") or {}
        info = err.get("codexErrorInfo")
        code = info if isinstance(info, str) else (next(iter(info)) if isinstance(info, dict) and info else None)
        self._errors_this_turn += 1
        return [
            Emission(
                "error",
                ErrorData(
                    message=str(err.get("message", "codex error")),
                    code=code,
                    details={"will_retry": params.get("willRetry"), "additional": err.get("additionalDetails")},
                ),
            )
        ]

    def _turn_completed(self, turn: dict[str, Any]) -> list[Emission]:
        out = self.items.fail_all()
        status = turn.get("status", "completed")
        if status == "failed" and not self._errors_this_turn and turn.get("error"):
            out.append(Emission("error", ErrorData(message=str((turn["error"] or {}).get("message", "turn failed")))))
        if self.turn_id is not None:
            stop = STOP.get(status, "end_turn")
            out.append(Emission("turn.ended", TurnEndedData(turn_id=self.turn_id, stop_reason=stop, usage=self._usage)))  # type: ignore[arg-type]
        self.turn_id, self.native_turn_id, self._usage, self._errors_this_turn = None, None, None, 0
        self._turn_base = None
        return out

    def fail_turn(self, message: str) -> list[Emission]:
        """The app-server died: close what was open and end the running turn with an error."""
        out = [*self.items.fail_all(), Emission("error", ErrorData(message=message, code="app_server_exited"))]
        if self.turn_id is not None:
            out.append(Emission("turn.ended", TurnEndedData(turn_id=self.turn_id, stop_reason="error")))
        self.turn_id, self.native_turn_id, self._usage, self._turn_base = None, None, None, None
        return out
