"""Exports of a stored transcript: JSONL (the events as stored) and Markdown (for people)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from .reader import Transcript
from .turns import fold

DETAIL_CHARS = 4000  # a command's output or a diff beyond this is cut in Markdown (JSONL keeps everything)


def to_jsonl(transcript: Transcript) -> Iterator[bytes]:
    for event in transcript.events:
        yield orjson.dumps(event) + b"\n"


def _fence(text: str, lang: str = "") -> str:
    if len(text) > DETAIL_CHARS:
        text = text[:DETAIL_CHARS] + f"\n… ({len(text) - DETAIL_CHARS} more characters)"
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{lang}\n{text}\n{fence}"


def to_markdown(transcript: Transcript) -> str:
    s = transcript.session
    rec = s.record
    lines = [
        f"# Session {s.session_id}",
        "",
        f"- agent: {s.agent}" + (f" (model {rec['model']})" if rec.get("model") else ""),
        f"- created: {s.created_at}",
        f"- cwd: `{rec.get('cwd', '')}`",
        f"- daemon: {s.daemon_id}",
        f"- events: {s.last_sequence}",
    ]
    ended = rec.get("ended")
    if ended:
        lines.append(f"- ended: {ended.get('reason')}" + (f" ({ended['message']})" if ended.get("message") else ""))
    for n, turn in enumerate(fold(transcript.events), 1):
        lines += ["", f"## Turn {n}" + (f" ({turn.stop_reason})" if turn.stop_reason else ""), ""]
        for e in turn.entries:
            if e.kind == "user":
                lines += ["**User:**", "", e.text, ""]
            elif e.kind == "assistant":
                lines += ["**Assistant:**", "", e.text, ""]
            elif e.kind == "reasoning":
                lines += ["> " + e.text.replace("\n", "\n> "), ""]
            elif e.kind == "tool_call":
                lines.append(f"- tool call `{e.text[:300]}`")
            elif e.kind == "tool_result":
                lines.append(f"- tool {e.text}:")
                lines += ["", _fence(e.detail or ""), ""]
            elif e.kind == "command":
                lines += ["", _fence(e.text + ("\n" + e.detail if e.detail else ""), "console"), ""]
            elif e.kind == "file_change":
                lines.append(f"- file {e.text}")
                if e.detail:
                    lines += ["", _fence(e.detail, "diff"), ""]
            elif e.kind == "error":
                lines += [f"**Error:** {e.text}", ""]
            else:
                lines.append(f"- {e.text}")
    return "\n".join(lines).rstrip() + "\n"
