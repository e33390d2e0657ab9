"""A session's events rendered as a transcript a person (or a model) can read."""

from __future__ import annotations

import json
from typing import Any


def _part(p: dict[str, Any]) -> str:
    kind = p.get("type")
    if kind == "text":
        return p.get("text", "")
    if kind == "reasoning":
        return f"_(thinking)_ {p.get('text', '')}"
    if kind == "tool_call":
        server = f"{p['server']}." if p.get("server") else ""
        return f"`{server}{p.get('name')}` {json.dumps(p.get('arguments'))[:500]}"
    if kind == "tool_result":
        return f"{'error: ' if p.get('is_error') else ''}{str(p.get('output'))[:1000]}"
    if kind == "command":
        out = (p.get("output") or "").rstrip()
        return f"$ {p.get('command')}  (exit {p.get('exit_code')})" + (f"\n```\n{out[:2000]}\n```" if out else "")
    if kind == "file_ref":
        diff = p.get("diff")
        return f"{p.get('action')} {p.get('path')}" + (f"\n```diff\n{diff[:3000]}\n```" if diff else "")
    if kind == "image":
        return "[image]"
    return json.dumps(p)[:500]


def render_transcript(events: list[dict[str, Any]], session_id: str) -> str:
    lines = [f"# Session {session_id}", ""]
    for e in events:
        etype, data = e["type"], e.get("data") or {}
        if etype == "item.completed":
            item = data["item"]
            who = item.get("role") or item["kind"]
            body = "\n".join(_part(p) for p in item.get("content") or [])
            label = item["kind"] if item["kind"] != "message" else who
            lines.append(f"**{label}**{' (failed)' if item.get('status') == 'failed' else ''}: {body}")
        elif etype == "permission.requested":
            lines.append(
                f"> permission {data['permission_id']}: {data['action']} {json.dumps(data.get('metadata'))[:300]}"
            )
        elif etype == "permission.resolved":
            lines.append(
                f"> permission {data['permission_id']}: {data['status']}"
                + (f" ({data['message']})" if data.get("message") else "")
            )
        elif etype == "question.requested":
            lines.append(f"> question {data['question_id']}: {data['prompt']} {data.get('options')}")
        elif etype == "question.resolved":
            lines.append(f"> question {data['question_id']}: {data['status']} {data.get('response') or ''}")
        elif etype == "turn.ended":
            lines.append(f"--- turn ended ({data.get('stop_reason')}) ---")
        elif etype == "error":
            lines.append(f"**error**: {data.get('message')}")
        elif etype == "session.ended":
            lines.append(f"--- session ended: {data.get('reason')} {data.get('message') or ''} ---")
    return "\n\n".join(lines) + "\n"
