"""A transcript's events folded into turns of readable entries: the shared ground of exports and replays."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Entry:
    kind: str  # user | assistant | reasoning | tool_call | tool_result | command | file_change | error | request
    text: str
    detail: str | None = None  # command output, a diff, a tool's result


@dataclass
class Turn:
    turn_id: str | None
    entries: list[Entry] = field(default_factory=list)
    stop_reason: str | None = None


def _text(parts: list[dict[str, Any]], kinds: tuple[str, ...] = ("text",)) -> str:
    return "".join(str(p.get("text") or "") for p in parts if p.get("type") in kinds)


def _compact(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return str(value)


def item_entries(item: dict[str, Any]) -> list[Entry]:
    kind, role = item.get("kind"), item.get("role")
    parts = [p for p in item.get("content") or [] if isinstance(p, dict)]
    out: list[Entry] = []
    if kind == "message":
        text = _text(parts)
        names = [p.get("path") for p in parts if p.get("type") in ("file_ref", "image") and p.get("path")]
        if names:
            text += "".join(f"\n[attached {n}]" for n in names)
        if text:
            out.append(Entry("user" if role == "user" else "assistant", text))
    elif kind == "reasoning":
        text = _text(parts, ("reasoning", "text"))
        if text:
            out.append(Entry("reasoning", text))
    for p in parts:
        t = p.get("type")
        if t == "tool_call":
            out.append(Entry("tool_call", f"{p.get('name')}({_compact(p.get('arguments'))})"))
        elif t == "tool_result":
            label = "error" if p.get("is_error") else "result"
            out.append(Entry("tool_result", label, _compact(p.get("output"))))
        elif t == "command":
            code = p.get("exit_code")
            out.append(Entry("command", f"$ {p.get('command')}" + ("" if code is None else f"  (exit {code})"),
                             p.get("output") or None))
        elif t == "file_ref" and kind == "file_change":
            out.append(Entry("file_change", f"{p.get('action')} {p.get('path')}", p.get("diff") or None))
    return out


def fold(events: list[dict[str, Any]]) -> list[Turn]:
    """Turns in order; entries come from completed items, errors and answered requests."""
    turns: list[Turn] = []
    current: Turn | None = None

    def turn() -> Turn:
        nonlocal current
        if current is None:
            current = Turn(None)
            turns.append(current)
        return current

    for ev in events:
        type_, data = ev.get("type"), ev.get("data") or {}
        if type_ == "turn.started":
            current = Turn(data.get("turn_id"))
            turns.append(current)
        elif type_ == "turn.ended":
            turn().stop_reason = data.get("stop_reason")
            current = None
        elif type_ == "item.completed":
            turn().entries += item_entries(data.get("item") or {})
        elif type_ == "error":
            turn().entries.append(Entry("error", str(data.get("message") or "")))
        elif type_ in ("permission.resolved", "question.resolved"):
            what = data.get("action") or data.get("prompt") or ""
            turn().entries.append(Entry("request", f"{type_.split('.')[0]} {what!s}: {data.get('status')}"))
    return [t for t in turns if t.entries or t.turn_id]
