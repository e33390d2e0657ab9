"""The structured replay that primes a fresh agent with a restored session's history (bounded, newest turns whole)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ..schema.store import ReplayCaps
from .turns import Entry, Turn, fold

__all__ = ["ReplayCaps", "build_replay"]

HEADER = (
    "This session continues in a new sandbox, where your earlier working state could not be restored. "
    "Its transcript so far, for context only (tool output and diffs may be shortened):"
)
FOOTER = "The new message follows."


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters]"


def _entry(e: Entry, caps: ReplayCaps) -> str | None:
    if e.kind in ("user", "assistant"):
        return f"<{e.kind}>\n{escape(e.text)}\n</{e.kind}>"
    if e.kind == "reasoning":
        return f"<reasoning>{escape(_cut(e.text, caps.detail_chars))}</reasoning>" if caps.include_reasoning else None
    if e.kind == "tool_call":
        return f"<tool_call>{escape(_cut(e.text, caps.detail_chars))}</tool_call>"
    if e.kind == "tool_result":
        output = escape(_cut(e.detail or "", caps.detail_chars))
        return f"<tool_result status={quoteattr(e.text)}>{output}</tool_result>"
    if e.kind == "command":
        body = e.text + ("\n" + _cut(e.detail, caps.detail_chars) if e.detail else "")
        return f"<command>\n{escape(body)}\n</command>"
    if e.kind == "file_change":
        action, _, path = e.text.partition(" ")
        diff = f"\n{escape(_cut(e.detail, caps.detail_chars))}\n" if e.detail else ""
        return f"<file_change action={quoteattr(action)} path={quoteattr(path)}>{diff}</file_change>"
    if e.kind == "error":
        return f"<error>{escape(e.text)}</error>"
    return f"<note>{escape(e.text)}</note>"


def _turn(n: int, turn: Turn, caps: ReplayCaps) -> str:
    parts = [p for p in (_entry(e, caps) for e in turn.entries) if p]
    return f'<turn n="{n}">\n' + "\n".join(parts) + "\n</turn>"


def build_replay(events: list[dict[str, Any]], caps: ReplayCaps | None = None) -> str:
    """'' when there is nothing to replay."""
    caps = caps or ReplayCaps()
    turns = [t for t in fold(events) if t.entries]
    if not turns:
        return ""
    if caps.max_turns is not None:
        turns_kept = turns[-caps.max_turns :]
    else:
        turns_kept = turns
    budget = caps.max_chars - len(HEADER) - len(FOOTER) - 100
    blocks: list[str] = []
    size = 0
    first_n = len(turns) - len(turns_kept) + 1
    for offset, turn in enumerate(reversed(turns_kept)):
        n = first_n + len(turns_kept) - 1 - offset
        block = _turn(n, turn, caps)
        if size + len(block) > budget:
            if not blocks:  # even the newest turn alone is too long: keep its end, which the next message follows
                blocks.append("[... the start of this turn is left out]\n" + block[-budget:])
            break
        blocks.append(block)
        size += len(block) + 1
    left_out = len(turns) - len(blocks)
    body = "\n".join(reversed(blocks))
    note = f"<!-- {left_out} earlier turn(s) left out -->\n" if left_out else ""
    return f"{HEADER}\n<transcript>\n{note}{body}\n</transcript>\n\n{FOOTER}"
