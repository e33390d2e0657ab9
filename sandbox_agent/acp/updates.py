"""Universal events as ACP `session/update`s: the reverse of agents/acp/translator.py, for ACP clients.

Stateful per session (it remembers each item's kind). Live, the user's own messages are not echoed (the client
sent them); on `session/load` the whole transcript is replayed, user messages included.
"""

from __future__ import annotations

from typing import Any

import acp
from acp import schema as S

TOOL_KINDS = {"tool_call", "command", "file_change"}
ACP_KIND = {"command": "execute", "file_change": "edit", "tool_call": "other"}


def _texts(content: list[dict[str, Any]], kinds: tuple[str, ...] = ("text",)) -> str:
    return "".join(str(p.get("text", "")) for p in content if p.get("type") in kinds)


def _title(item: dict[str, Any]) -> str:
    for part in item.get("content") or []:
        kind = part.get("type")
        if kind == "command":
            return str(part.get("command", "command"))
        if kind == "file_ref":
            return f"{part.get('action', 'edit')} {part.get('path', '')}".strip()
        if kind == "tool_call":
            return str(part.get("name", "tool"))
    return item.get("kind", "tool")


def _tool_input(item: dict[str, Any]) -> Any:
    for part in item.get("content") or []:
        if part.get("type") == "tool_call":
            return part.get("arguments")
        if part.get("type") == "command":
            return {"command": part.get("command")}
        if part.get("type") == "file_ref":
            return {"path": part.get("path")}
    return None


def _tool_output(item: dict[str, Any]) -> tuple[list[Any], Any]:
    """ACP tool call content and raw output for a finished command, file change or tool result."""
    content: list[Any] = []
    raw: Any = None
    for part in item.get("content") or []:
        kind = part.get("type")
        if kind == "command" and (part.get("output") or part.get("exit_code") is not None):
            raw = {"output": part.get("output"), "exit_code": part.get("exit_code")}
            if part.get("output"):
                content.append(acp.tool_content(acp.text_block(str(part["output"]))))
        elif kind == "file_ref" and part.get("diff"):
            content.append(acp.tool_content(acp.text_block(f"```diff\n{part['diff']}```")))
        elif kind == "tool_result":
            output = part.get("output")
            raw = output
            text = output if isinstance(output, str) else ("" if output is None else str(output))
            if text:
                content.append(acp.tool_content(acp.text_block(text)))
        elif kind == "text" and part.get("text"):
            content.append(acp.tool_content(acp.text_block(str(part["text"]))))
    return content, raw


class UpdateMapper:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}  # item_id -> {kind, role, streamed}

    def updates(self, event: dict[str, Any], replay: bool = False) -> list[Any]:
        kind = event.get("type")
        data = event.get("data") or {}
        if kind == "item.started":
            return self._started(data["item"])
        if kind == "item.delta":
            return self._delta(data)
        if kind == "item.completed":
            return self._completed(data["item"], replay)
        if kind == "error":
            return [acp.update_agent_message_text(f"\n[error] {data.get('message', '')}\n")]
        return []

    def _started(self, item: dict[str, Any]) -> list[Any]:
        kind = item.get("kind")
        self.items[item["item_id"]] = {"kind": kind, "role": item.get("role"), "streamed": False}
        if kind in TOOL_KINDS:
            locations = [
                S.ToolCallLocation(path=str(p["path"]))
                for p in item.get("content") or []
                if p.get("type") == "file_ref" and p.get("path")
            ]
            return [
                acp.start_tool_call(
                    item["item_id"],
                    _title(item),
                    kind=ACP_KIND[kind],  # type: ignore[arg-type]
                    status="in_progress",
                    raw_input=_tool_input(item),
                    locations=locations or None,
                )
            ]
        return []

    def _delta(self, data: dict[str, Any]) -> list[Any]:
        known = self.items.get(data.get("item_id", ""))
        if known is None or not data.get("delta"):
            return []
        if known["kind"] == "message" and known["role"] == "assistant":
            known["streamed"] = True
            return [acp.update_agent_message_text(data["delta"])]
        if known["kind"] == "reasoning":
            known["streamed"] = True
            return [acp.update_agent_thought_text(data["delta"])]
        return []

    def _completed(self, item: dict[str, Any], replay: bool) -> list[Any]:
        known = self.items.pop(item["item_id"], {"streamed": False})
        kind, role, content = item.get("kind"), item.get("role"), item.get("content") or []
        if kind == "message" and role == "user":
            text = _texts(content)
            return [acp.update_user_message_text(text)] if replay and text else []
        if kind == "message" and role == "assistant":
            text = _texts(content)
            return [acp.update_agent_message_text(text)] if text and not known["streamed"] else []
        if kind == "reasoning":
            text = _texts(content, ("reasoning", "text"))
            return [acp.update_agent_thought_text(text)] if text and not known["streamed"] else []
        if kind in TOOL_KINDS:
            out, raw = _tool_output(item)
            status = "failed" if item.get("status") == "failed" else "completed"
            title = _title(item)
            return [
                acp.update_tool_call(item["item_id"], title=title, status=status, content=out or None, raw_output=raw)
            ]
        if kind == "tool_result" and item.get("parent_id"):
            out, raw = _tool_output(item)
            failed = any(p.get("is_error") for p in content if p.get("type") == "tool_result")
            status = "failed" if failed else "completed"
            return [acp.update_tool_call(item["parent_id"], status=status, content=out or None, raw_output=raw)]
        if kind == "status":
            entries = next((p.get("json") for p in content if p.get("type") == "json"), None)
            label = next((p.get("label") for p in content if p.get("type") == "status"), None)
            if label == "plan" and isinstance(entries, list):
                return [
                    acp.update_plan(
                        acp.plan_entry(str(e.get("content", "")), status=e.get("status") or "pending")
                        for e in entries
                        if isinstance(e, dict)
                    )
                ]
        return []
