"""Pure translation of Amp's `--stream-json` output into universal events.

Amp prints whole messages only, so every item gets one synthetic delta. In multi-turn input mode a turn ends
with an assistant line whose stop_reason is `end_turn`; the single `result` line comes when stdin closes.
"""

from __future__ import annotations

import json
from typing import Any

from ...schema.content import CommandPart, FileRefPart, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from ...schema.events import AgentUnparsedData, ErrorData, TurnEndedData, Usage
from ...schema.items import ItemKind
from ..emission import Emission, IdFactory, OpenItems

SHELL_TOOLS = {"Bash", "shell_command"}
FILE_TOOLS = {"create_file": "write", "edit_file": "patch", "undo_edit": "patch"}


def _kind(name: str) -> ItemKind:
    if name in SHELL_TOOLS:
        return "command"
    return "file_change" if name in FILE_TOOLS else "tool_call"


def _command(args: dict[str, Any]) -> str:
    return str(args.get("cmd") or args.get("command") or "")


def _file(name: str, args: dict[str, Any]) -> FileRefPart:
    path = str(args.get("path") or args.get("file_path") or args.get("filePath") or "")
    if "content" in args:
        lines = str(args["content"]).splitlines()
        diff = f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{ln}\n" for ln in lines)
    elif "old_str" in args or "new_str" in args:
        old = str(args.get("old_str", "")).splitlines()
        new = str(args.get("new_str", "")).splitlines()
        diff = (
            f"--- a/{path}\n+++ b/{path}\n@@ -1,{len(old)} +1,{len(new)} @@\n"
            + "".join(f"-{ln}\n" for ln in old)
            + "".join(f"+{ln}\n" for ln in new)
        )
    else:
        diff = None
    return FileRefPart(path=path, action=FILE_TOOLS.get(name, "patch"), diff=diff)  # type: ignore[arg-type]


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return "" if content is None else str(content)


class AmpTranslator:
    def __init__(self, new_id: IdFactory) -> None:
        self.items = OpenItems(new_id)
        self.turn_id: str | None = None
        self.thread_id: str | None = None
        self.interrupting = False  # set by the adapter before it sends SIGINT
        self._tools: dict[str, tuple[str, dict[str, Any]]] = {}
        self._n = 0
        self._usage: Usage | None = None  # summed over the running turn's model calls

    def _native(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def translate(self, msg: dict[str, Any]) -> list[Emission]:
        kind = msg.get("type")
        try:
            if kind == "system":
                if msg.get("subtype") == "init":
                    self.thread_id = msg.get("session_id") or self.thread_id
                    return []
                return [
                    Emission(
                        "agent.unparsed",
                        AgentUnparsedData(error=f"unknown system subtype {msg.get('subtype')!r}", location="system"),
                    )
                ]
            if kind == "assistant":
                return self._assistant(msg["message"])
            if kind == "user":
                return self._user(msg["message"])
            if kind == "result":
                return self._result(msg)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return [
                Emission("agent.unparsed", AgentUnparsedData(error=f"{type(exc).__name__}: {exc}", location=str(kind)))
            ]
        return [
            Emission("agent.unparsed", AgentUnparsedData(error=f"unknown message type {kind!r}", location="stdout"))
        ]

    def _assistant(self, message: dict[str, Any]) -> list[Emission]:
        out: list[Emission] = []
        for block in message.get("content") or []:
            btype = block.get("type")
            if btype == "text":
                text = block.get("text", "")
                out += self.items.whole(self._native("text"), "message", "assistant", [TextPart(text=text)], delta=text)
            elif btype == "thinking":
                text = block.get("thinking", "")
                out += self.items.whole(
                    self._native("thinking"), "reasoning", "assistant", [ReasoningPart(text=text)], delta=text
                )
            elif btype == "tool_use":
                name, call_id, args = block.get("name", ""), block.get("id", ""), block.get("input") or {}
                self._tools[call_id] = (name, args)
                kind = _kind(name)
                encoded = json.dumps(args)
                if kind == "command":
                    out.append(self.items.start(call_id, kind, "assistant", [CommandPart(command=_command(args))]))
                    d = self.items.delta(call_id, encoded, synthetic=True)
                    out += [d] if d else []
                elif kind == "file_change":
                    out.append(self.items.start(call_id, kind, "assistant", [_file(name, args)]))
                    d = self.items.delta(call_id, encoded, synthetic=True)
                    out += [d] if d else []
                else:
                    out += self.items.whole(
                        call_id,
                        "tool_call",
                        "assistant",
                        [ToolCallPart(name=name, arguments=args, call_id=call_id)],
                        delta=encoded,
                    )
            else:
                out.append(
                    Emission(
                        "agent.unparsed", AgentUnparsedData(error=f"unknown block {btype!r}", location="assistant")
                    )
                )
        self._add_usage(message.get("usage"))
        if message.get("stop_reason") == "end_turn":
            out += self._end(self._usage, "end_turn")
        return out

    def _add_usage(self, raw: Any) -> None:
        """Each assistant line is one model call (a tool turn has several); Anthropic counts cache apart."""
        if not isinstance(raw, dict) or self.turn_id is None:
            return
        cached = int(raw.get("cache_read_input_tokens") or 0)
        written = int(raw.get("cache_creation_input_tokens") or 0)
        u = self._usage or Usage(input_tokens=0, output_tokens=0, cached_input_tokens=0)
        u.input_tokens = (u.input_tokens or 0) + int(raw.get("input_tokens") or 0) + cached + written
        u.output_tokens = (u.output_tokens or 0) + int(raw.get("output_tokens") or 0)
        u.cached_input_tokens = (u.cached_input_tokens or 0) + cached
        self._usage = u

    def _user(self, message: dict[str, Any]) -> list[Emission]:
        out: list[Emission] = []
        for block in message.get("content") or []:
            if block.get("type") != "tool_result":
                continue  # the user's own text, echoed
            call_id = block.get("tool_use_id", "")
            is_error = bool(block.get("is_error"))
            text = _text(block.get("content"))
            name, args = self._tools.get(call_id, ("", {}))
            item = self.items.get(call_id)
            if item is not None and item.kind == "command":
                output, code = text, (1 if is_error else 0)
                try:
                    parsed = json.loads(text)
                    if isinstance(parsed, dict):
                        output, code = str(parsed.get("output", "")), int(parsed.get("exitCode", code))
                except ValueError:
                    pass
                d = self.items.delta(call_id, output, synthetic=True) if output else None
                out += [d] if d else []
                content: list[Any] = [CommandPart(command=_command(args), exit_code=code, output=output)]
                if is_error:
                    content.append(ToolResultPart(call_id=call_id, output=text, is_error=True))
                done = self.items.complete(call_id, content, "failed" if is_error or code != 0 else "completed")
                out += [done] if done else []
            elif item is not None and item.kind == "file_change":
                content = [_file(name, args)]
                if is_error:
                    content.append(ToolResultPart(call_id=call_id, output=text, is_error=True))
                done = self.items.complete(call_id, content, "failed" if is_error else "completed")
                out += [done] if done else []
            else:
                result = ToolResultPart(call_id=call_id, output=text, is_error=is_error)
                out += self.items.whole(
                    call_id + ":result",
                    "tool_result",
                    "tool",
                    [result],
                    delta=text or None,
                    status="failed" if is_error else "completed",
                    parent_id=self.items.item_id_of(call_id),
                )
        return out

    def _result(self, msg: dict[str, Any]) -> list[Emission]:
        out: list[Emission] = []
        if self.interrupting:
            return self._end(None, "interrupted")  # "User cancelled (SIGINT/SIGTERM)": ours, not a failure
        if msg.get("is_error") or msg.get("subtype") != "success":
            out.append(
                Emission(
                    "error",
                    ErrorData(
                        message=str(msg.get("error") or msg.get("result") or "amp failed"), code=str(msg.get("subtype"))
                    ),
                )
            )
            out += self._end(None, "error")
        else:
            out += self._end(None, "end_turn")
        return out

    def _end(self, usage: Usage | None, stop: str) -> list[Emission]:
        out = self.items.fail_all()
        if self.turn_id is not None:
            usage = usage or self._usage  # an interrupted or failed turn still spent what it spent
            out.append(Emission("turn.ended", TurnEndedData(turn_id=self.turn_id, stop_reason=stop, usage=usage)))  # type: ignore[arg-type]
            self.turn_id = None
        self._usage = None
        return out

    def interrupted(self) -> list[Emission]:
        """The process was stopped on purpose (SIGINT): close the turn as interrupted."""
        return self._end(None, "interrupted")
