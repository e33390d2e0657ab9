"""Pure translation of the mock agent's native NDJSON messages into universal events."""

from __future__ import annotations

from typing import Any

from ...schema.content import CommandPart, FileRefPart, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from ...schema.events import (
    AgentUnparsedData,
    ErrorData,
    PermissionData,
    QuestionData,
    QuestionOption,
    TurnEndedData,
    Usage,
)
from ...schema.events import Question as QuestionModel
from ..emission import Emission, IdFactory, OpenItems


class MockTranslator:
    def __init__(self, new_id: IdFactory) -> None:
        self.items = OpenItems(new_id)
        self._text: dict[str, list[str]] = {}
        self._calls: dict[str, str] = {}  # native call id -> tool name

    def translate(self, msg: dict[str, Any]) -> list[Emission]:
        t = msg.get("t")
        handler = getattr(self, f"_on_{t}", None) if isinstance(t, str) else None
        if handler is None:
            return [
                Emission(
                    "agent.unparsed",
                    AgentUnparsedData(error=f"unknown mock message {t!r}", location="stdout"),
                )
            ]
        try:
            return handler(msg)
        except (KeyError, TypeError, ValueError) as exc:
            return [
                Emission("agent.unparsed", AgentUnparsedData(error=f"{type(exc).__name__}: {exc}", location=str(t)))
            ]

    def _on_ready(self, msg: dict[str, Any]) -> list[Emission]:
        return []

    def _on_msg_start(self, msg: dict[str, Any]) -> list[Emission]:
        kind = "reasoning" if msg.get("kind") == "reasoning" else "message"
        self._text[msg["id"]] = []
        return [self.items.start(msg["id"], kind, "assistant")]

    def _on_msg_delta(self, msg: dict[str, Any]) -> list[Emission]:
        self._text.setdefault(msg["id"], []).append(msg["text"])
        d = self.items.delta(msg["id"], msg["text"])
        return [d] if d else []

    def _on_msg_end(self, msg: dict[str, Any]) -> list[Emission]:
        item = self.items.get(msg["id"])
        text = "".join(self._text.pop(msg["id"], []))
        if item is None:
            return []
        part = ReasoningPart(text=text) if item.kind == "reasoning" else TextPart(text=text)
        done = self.items.complete(msg["id"], [part])
        return [done] if done else []

    def _on_tool_call(self, msg: dict[str, Any]) -> list[Emission]:
        self._calls[msg["id"]] = msg["name"]
        part = ToolCallPart(name=msg["name"], arguments=msg.get("input"), call_id=msg["id"])
        return self.items.whole(msg["id"], "tool_call", "assistant", [part])

    def _on_tool_result(self, msg: dict[str, Any]) -> list[Emission]:
        part = ToolResultPart(call_id=msg["id"], output=msg.get("output"), is_error=bool(msg.get("is_error")))
        status = "failed" if part.is_error else "completed"
        parent = self.items.item_id_of(msg["id"])
        return self.items.whole(msg["id"] + ":result", "tool_result", "tool", [part], status=status, parent_id=parent)

    def _on_command_start(self, msg: dict[str, Any]) -> list[Emission]:
        self._text[msg["id"]] = []
        return [self.items.start(msg["id"], "command", "assistant", [CommandPart(command=msg["command"])])]

    def _on_command_output(self, msg: dict[str, Any]) -> list[Emission]:
        return self._on_msg_delta(msg)

    def _on_command_end(self, msg: dict[str, Any]) -> list[Emission]:
        item = self.items.get(msg["id"])
        output = "".join(self._text.pop(msg["id"], []))
        if item is None:
            return []
        command = item.content[0].command if item.content and isinstance(item.content[0], CommandPart) else ""
        exit_code = msg.get("exit_code")
        part = CommandPart(command=command, exit_code=exit_code, output=output)
        done = self.items.complete(msg["id"], [part], "completed" if exit_code == 0 else "failed")
        return [done] if done else []

    def _on_file_change(self, msg: dict[str, Any]) -> list[Emission]:
        part = FileRefPart(path=msg["path"], action=msg.get("action", "write"), diff=msg.get("diff"))
        return self.items.whole(msg["id"], "file_change", "assistant", [part], delta=msg.get("diff"))

    def _on_permission(self, msg: dict[str, Any]) -> list[Emission]:
        data = PermissionData(
            permission_id=msg["id"],
            action=msg["action"],
            status="requested",
            metadata={"input": msg.get("input")},
        )
        return [Emission("permission.requested", data)]

    def _on_question(self, msg: dict[str, Any]) -> list[Emission]:
        options = [str(o) for o in msg.get("options", [])]
        data = QuestionData(
            question_id=msg["id"],
            prompt=msg["prompt"],
            options=options,
            status="requested",
            questions=[QuestionModel(prompt=msg["prompt"], options=[QuestionOption(label=o) for o in options])],
        )
        return [Emission("question.requested", data)]

    def _on_error(self, msg: dict[str, Any]) -> list[Emission]:
        return [Emission("error", ErrorData(message=msg["message"], code=msg.get("code")))]

    def _on_turn_end(self, msg: dict[str, Any]) -> list[Emission]:
        out = self.items.fail_all() if msg.get("stop_reason") == "interrupted" else []
        usage = Usage.model_validate(msg["usage"]) if isinstance(msg.get("usage"), dict) else None
        out.append(
            Emission("turn.ended", TurnEndedData(turn_id=msg["turn"], stop_reason=msg.get("stop_reason"), usage=usage))
        )
        return out
