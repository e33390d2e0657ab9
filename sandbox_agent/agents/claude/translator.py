"""Pure translation of Claude Code's stream-json stdout into universal events.

Claude prints each content block twice when partial messages are on: first as `stream_event` deltas (grouped by
the `message_start` id), then as a complete `assistant` line (before that block's `content_block_stop`). Items are
opened on the first sign of a block and completed by the complete line; without partial messages the complete
line alone makes a whole item with one synthetic delta. Bash calls become command items and Write/Edit/
MultiEdit/NotebookEdit calls file_change items, both completed by their tool_result; other tools are tool_call
items followed by a tool_result item. Subagent traffic is parented to its Agent/Task call.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ...schema.content import (
    CommandPart,
    FileRefPart,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
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

FILE_TOOLS = {"Write": "write", "Edit": "patch", "MultiEdit": "patch", "NotebookEdit": "patch"}
COMMAND_TOOLS = {"Bash"}
IGNORED_SYSTEM = {
    "status",
    "thinking_tokens",
    "task_started",
    "task_updated",
    "task_notification",
    "session_state_changed",
    "hook_started",
    "hook_response",
    "compact_boundary",
}
INTERRUPTED_TEXT = ("[Request interrupted by user]", "[Request interrupted by user for tool use]")


def tool_kind(name: str) -> ItemKind:
    if name in COMMAND_TOOLS:
        return "command"
    if name in FILE_TOOLS:
        return "file_change"
    return "tool_call"


def tool_part(name: str, call_id: str, args: Any) -> Any:
    if name in COMMAND_TOOLS:
        return CommandPart(command=str((args or {}).get("command", "")))
    if name in FILE_TOOLS:
        path = (args or {}).get("file_path") or (args or {}).get("notebook_path") or ""
        return FileRefPart(path=str(path), action=FILE_TOOLS[name], diff=_diff_from_input(name, args or {}))  # type: ignore[arg-type]
    if name.startswith("mcp__"):
        _, server, tool = [*name.split("__", 2), "", ""][:3]
        return ToolCallPart(name=tool or name, arguments=args, call_id=call_id, server=server or None)
    return ToolCallPart(name=name, arguments=args, call_id=call_id)


def _diff_from_input(name: str, args: dict[str, Any]) -> str | None:
    path = args.get("file_path") or args.get("notebook_path") or "file"
    if name == "Write":
        lines = str(args.get("content", "")).splitlines()
        return f"--- a/{path}\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{ln}\n" for ln in lines)
    edits = args.get("edits") if name == "MultiEdit" else [args]
    hunks = []
    for edit in edits or []:
        if not isinstance(edit, dict):
            continue
        old = str(edit.get("old_string", edit.get("old_source", ""))).splitlines()
        new = str(edit.get("new_string", edit.get("new_source", ""))).splitlines()
        hunks.append(
            f"@@ -1,{len(old)} +1,{len(new)} @@\n"
            + "".join(f"-{ln}\n" for ln in old)
            + "".join(f"+{ln}\n" for ln in new)
        )
    return f"--- a/{path}\n+++ b/{path}\n" + "".join(hunks) if hunks else None


def _diff_from_result(result: dict[str, Any]) -> str | None:
    patch = result.get("structuredPatch")
    path = result.get("filePath", "file")
    if not patch:
        return None
    out = [f"--- a/{path}\n+++ b/{path}\n"]
    for hunk in patch:
        old = f"{hunk.get('oldStart', 0)},{hunk.get('oldLines', 0)}"
        new = f"{hunk.get('newStart', 0)},{hunk.get('newLines', 0)}"
        out.append(f"@@ -{old} +{new} @@\n")
        out.extend(f"{line}\n" for line in hunk.get("lines", []))
    return "".join(out)


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(c.get("text", "")) for c in content if isinstance(c, dict) and c.get("type") == "text")
    return "" if content is None else str(content)


def _usage(raw: Any, cost: float | None, model: str | None = None) -> Usage | None:
    """Anthropic counts cache reads and writes apart from `input_tokens`; ours counts every prompt token."""
    if not isinstance(raw, dict):
        return None
    cached = int(raw.get("cache_read_input_tokens") or 0)
    written = int(raw.get("cache_creation_input_tokens") or 0)
    return Usage(
        model=model,
        input_tokens=int(raw.get("input_tokens") or 0) + cached + written,
        output_tokens=raw.get("output_tokens"),
        cached_input_tokens=cached,
        total_cost_usd=cost,
    )


class ClaudeTranslator:
    def __init__(self, new_id: IdFactory) -> None:
        self.items = OpenItems(new_id)
        self.turn_id: str | None = None
        self.interrupting = False
        self.session_id: str | None = None
        self._msg: dict[str | None, str] = {}  # parent_tool_use_id -> current streamed message id
        self._blocks: dict[tuple[str, int], str] = {}  # (message id, index) -> native item key
        self._lines_seen: dict[str, int] = {}  # message id -> complete assistant lines seen
        self._text: dict[str, list[str]] = {}
        self._tools: dict[str, str] = {}  # tool_use id -> tool name
        self.pending: dict[str, PermissionData | QuestionData] = {}
        self._cost_so_far = 0.0  # the process's running total_cost_usd
        self._model: str | None = None

    # entry point

    def translate(self, msg: dict[str, Any]) -> list[Emission]:
        kind = msg.get("type")
        try:
            if kind == "stream_event":
                return self._stream(msg)
            if kind == "assistant":
                return self._assistant(msg)
            if kind == "user":
                return self._user(msg)
            if kind == "system":
                return self._system(msg)
            if kind == "result":
                return self._result(msg)
            if kind == "control_request":
                return self._control_request(msg)
            if kind == "control_cancel_request":
                return self._cancel(msg)
            if kind in ("control_response", "keep_alive"):
                return []
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return [self._unparsed(f"{type(exc).__name__}: {exc}", str(kind), msg)]
        return [self._unparsed(f"unknown message type {kind!r}", "stdout", msg)]

    @staticmethod
    def _unparsed(error: str, location: str, msg: Any) -> Emission:
        import hashlib

        digest = hashlib.sha256(orjson.dumps(msg, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
        return Emission("agent.unparsed", AgentUnparsedData(error=error, location=location, raw_hash=digest))

    def _parent(self, msg: dict[str, Any]) -> str | None:
        parent = msg.get("parent_tool_use_id")
        return self.items.item_id_of(parent) if parent else None

    # streaming

    def _stream(self, msg: dict[str, Any]) -> list[Emission]:
        event = msg["event"]
        etype = event.get("type")
        parent_key = msg.get("parent_tool_use_id")
        if etype == "message_start":
            self._msg[parent_key] = event["message"]["id"]
            return []
        message_id = self._msg.get(parent_key)
        if message_id is None or etype not in ("content_block_start", "content_block_delta"):
            return []
        index = int(event.get("index", 0))
        if etype == "content_block_start":
            block = event["content_block"]
            key = self._key_for(message_id, index, block)
            if self.items.get(key) is not None:
                return []
            return [self._open(key, block, msg)]
        key = self._blocks.get((message_id, index))
        if key is None:
            return []
        delta = event["delta"]
        text = delta.get("text") or delta.get("thinking") or delta.get("partial_json") or ""
        if not text:
            return []
        self._text.setdefault(key, []).append(text)
        d = self.items.delta(key, text)
        return [d] if d else []

    def _key_for(self, message_id: str, index: int, block: dict[str, Any]) -> str:
        key = block.get("id") if block.get("type") == "tool_use" else f"{message_id}:{index}"
        self._blocks[(message_id, index)] = key
        return key

    def _open(self, key: str, block: dict[str, Any], msg: dict[str, Any]) -> Emission:
        btype = block.get("type")
        parent = self._parent(msg)
        if btype == "tool_use":
            self._tools[block["id"]] = block["name"]
            kind = tool_kind(block["name"])
            content = [tool_part(block["name"], block["id"], None)] if kind != "tool_call" else []
            return self.items.start(key, kind, "assistant", content, parent_id=parent)
        kind = "reasoning" if btype in ("thinking", "redacted_thinking") else "message"
        return self.items.start(key, kind, "assistant", parent_id=parent)

    # complete messages

    def _assistant(self, msg: dict[str, Any]) -> list[Emission]:
        message = msg["message"]
        message_id = message.get("id") or ""
        out: list[Emission] = []
        if msg.get("parent_tool_use_id") is None and message.get("model") not in (None, "<synthetic>"):
            self._model = message["model"]  # the main loop's model, for the turn's usage
        if message.get("model") == "<synthetic>" or msg.get("error"):
            text = _result_text(message.get("content"))
            out.append(
                Emission("error", ErrorData(message=text or "API error", code=str(msg.get("error") or "api_error")))
            )
        for block in message.get("content", []):
            index = self._lines_seen.get(message_id, 0)
            self._lines_seen[message_id] = index + 1
            key = self._key_for(message_id, index, block)
            if self.items.get(key) is None:
                out.append(self._open(key, block, msg))
            out.extend(self._complete_block(key, block))
        return out

    def _complete_block(self, key: str, block: dict[str, Any]) -> list[Emission]:
        btype = block.get("type")
        streamed = bool(self._text.pop(key, None))
        if btype == "text":
            text = block.get("text", "")
            return self._finish(key, [TextPart(text=text)], None if streamed else text)
        if btype in ("thinking", "redacted_thinking"):
            text = block.get("thinking", "")
            return self._finish(
                key, [ReasoningPart(text=text, visibility="public" if text else "private")], None if streamed else text
            )
        if btype == "tool_use":
            name, args = block["name"], block.get("input")
            part = tool_part(name, block["id"], args)
            if tool_kind(name) != "tool_call":  # completed by its tool_result
                item = self.items.get(key)
                if item is not None:
                    item.content = [part]
                if not streamed:
                    d = self.items.delta(key, orjson.dumps(args).decode(), synthetic=True)
                    return [d] if d else []
                return []
            return self._finish(key, [part], None if streamed else orjson.dumps(args).decode())
        return [self._unparsed(f"unknown content block {btype!r}", "assistant.content", block)]

    def _finish(self, key: str, content: list[Any], synthetic_delta: str | None) -> list[Emission]:
        out: list[Emission] = []
        if synthetic_delta:
            d = self.items.delta(key, synthetic_delta, synthetic=True)
            if d:
                out.append(d)
        done = self.items.complete(key, content)
        if done:
            out.append(done)
        return out

    def _user(self, msg: dict[str, Any]) -> list[Emission]:
        if msg.get("isReplay"):
            return []
        content = msg["message"].get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        out: list[Emission] = []
        for block in content or []:
            if block.get("type") == "tool_result":
                out.extend(self._tool_result(block, msg.get("tool_use_result")))
            elif block.get("type") == "text":
                text = block.get("text", "")
                if text in INTERRUPTED_TEXT or not msg.get("parent_tool_use_id"):
                    continue  # our own prompt (the daemon already has it) or Claude's interrupt marker
                native = msg.get("uuid") or f"user:{len(out)}"
                out.extend(
                    self.items.whole(
                        native, "message", "user", [TextPart(text=text)], delta=text, parent_id=self._parent(msg)
                    )
                )
        return out

    def _tool_result(self, block: dict[str, Any], structured: Any) -> list[Emission]:
        call_id = block.get("tool_use_id", "")
        name = self._tools.get(call_id, "")
        is_error = bool(block.get("is_error"))
        text = _result_text(block.get("content"))
        item = self.items.get(call_id)
        if item is not None and item.kind in ("command", "file_change"):
            status = "failed" if is_error else "completed"
            if item.kind == "command":
                command = item.content[0].command if item.content and isinstance(item.content[0], CommandPart) else ""
                output = text
                if isinstance(structured, dict) and ("stdout" in structured or "stderr" in structured):
                    output = "".join(str(structured.get(k) or "") for k in ("stdout", "stderr")) or text
                m = re.search(r"[Ee]xit code (\d+)", text)
                code = int(m.group(1)) if m else (1 if is_error else 0)
                part: Any = CommandPart(command=command, exit_code=code, output=output)
            else:
                ref = item.content[0] if item.content and isinstance(item.content[0], FileRefPart) else None
                diff = _diff_from_result(structured) if isinstance(structured, dict) else None
                part = FileRefPart(
                    path=ref.path if ref else "",
                    action=ref.action if ref else "write",
                    diff=diff or (ref.diff if ref else None),
                )
            out = []
            if output_delta := (text if item.kind == "command" else None):
                d = self.items.delta(call_id, output_delta, synthetic=True)  # Claude reports output whole
                if d:
                    out.append(d)
            done = self.items.complete(call_id, [part], status)  # type: ignore[arg-type]
            if done:
                out.append(done)
            if is_error:
                result = ToolResultPart(call_id=call_id, output=text, is_error=True)
                out.extend(
                    self.items.whole(
                        call_id + ":result",
                        "tool_result",
                        "tool",
                        [result],
                        status="failed",
                        parent_id=self.items.item_id_of(call_id),
                    )
                )
            return out
        result = ToolResultPart(
            call_id=call_id, output=structured if isinstance(structured, dict) and name else text, is_error=is_error
        )
        if not isinstance(result.output, str | dict):
            result.output = text
        return self.items.whole(
            call_id + ":result",
            "tool_result",
            "tool",
            [result],
            status="failed" if is_error else "completed",
            parent_id=self.items.item_id_of(call_id),
        )

    def _system(self, msg: dict[str, Any]) -> list[Emission]:
        sub = msg.get("subtype")
        if sub == "init":
            self.session_id = msg.get("session_id") or self.session_id
            return []
        if sub == "api_retry":
            return [
                Emission(
                    "error",
                    ErrorData(
                        message=f"API error {msg.get('error_status')} ({msg.get('error')}); "
                        f"retry {msg.get('attempt')} of {msg.get('max_retries')} "
                        f"in {round(float(msg.get('retry_delay_ms') or 0))} ms",
                        code="api_retry",
                        details={
                            k: msg.get(k) for k in ("attempt", "max_retries", "retry_delay_ms", "error_status", "error")
                        },
                    ),
                )
            ]
        if sub in IGNORED_SYSTEM:
            return []
        return [self._unparsed(f"unknown system subtype {sub!r}", "system", msg)]

    def _result(self, msg: dict[str, Any]) -> list[Emission]:
        out = self.items.fail_all()
        sub = msg.get("subtype")
        if msg.get("is_error") and sub == "success":
            out.append(
                Emission(
                    "error",
                    ErrorData(
                        message=str(msg.get("result") or "API error"), code=f"api_error_{msg.get('api_error_status')}"
                    ),
                )
            )
            stop = "error"
        elif sub == "error_during_execution":
            stop = "interrupted" if self.interrupting else "error"
            if not self.interrupting and msg.get("errors"):
                out.append(
                    Emission("error", ErrorData(message="; ".join(map(str, msg["errors"])), code="execution_error"))
                )
        elif sub == "error_max_turns":
            stop = "max_tokens"
            out.append(
                Emission(
                    "error",
                    ErrorData(message="; ".join(map(str, msg.get("errors") or ["max turns"])), code="max_turns"),
                )
            )
        else:
            stop = {"max_tokens": "max_tokens", "refusal": "refusal"}.get(str(msg.get("stop_reason")), "end_turn")
        self.interrupting = False
        # `total_cost_usd` adds up over the process's life (captures: 0.098, 0.294, 0.393 over three turns, and
        # back near 0.098 after a --resume); the turn's cost is the difference.
        cost, total = None, msg.get("total_cost_usd")
        if isinstance(total, int | float):
            cost = total - self._cost_so_far if total >= self._cost_so_far else float(total)
            self._cost_so_far = float(total)
        if self.turn_id is not None:
            out.append(
                Emission(
                    "turn.ended",
                    TurnEndedData(
                        turn_id=self.turn_id,
                        stop_reason=stop,  # type: ignore[arg-type]
                        usage=_usage(msg.get("usage"), cost, self._model),
                    ),
                )
            )
            self.turn_id = None
        return out

    # human in the loop

    def _control_request(self, msg: dict[str, Any]) -> list[Emission]:
        request = msg["request"]
        if request.get("subtype") != "can_use_tool":
            return []  # hook callbacks etc. are answered by the adapter
        rid = msg["request_id"]
        tool, args = request.get("tool_name", ""), request.get("input") or {}
        if tool == "AskUserQuestion":
            data: Any = question_request(rid, args.get("questions") or [], "multiSelect")
            self.pending[rid] = data
            return [Emission("question.requested", data)]
        metadata = {
            "input": args,
            "suggestions": request.get("permission_suggestions"),
            "description": request.get("description"),
            "blocked_path": request.get("blocked_path"),
            "tool_use_id": request.get("tool_use_id"),
        }
        data = PermissionData(
            permission_id=rid,
            action=tool,
            status="requested",
            metadata={k: v for k, v in metadata.items() if v is not None},
        )
        self.pending[rid] = data
        return [Emission("permission.requested", data)]

    def _cancel(self, msg: dict[str, Any]) -> list[Emission]:
        pending = self.pending.pop(msg.get("request_id", ""), None)
        if isinstance(pending, PermissionData):
            return [
                Emission(
                    "permission.resolved",
                    pending.model_copy(update={"status": "reject", "message": "cancelled by the agent"}),
                )
            ]
        if isinstance(pending, QuestionData):
            return [Emission("question.resolved", pending.model_copy(update={"status": "rejected"}))]
        return []
