"""Scripted replies (provider-neutral), the queue that hands them out, and the log of what agents asked."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    input: Any = Field(default_factory=dict)
    custom: bool = Field(default=False, description="a freeform custom tool (Codex apply_patch) instead of JSON args")


class ErrorReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: int = 500
    type: str = "api_error"
    message: str = "fake provider error"
    retry_after: float | None = None


class Reply(BaseModel):
    """One model turn. Any of: thinking, text, tool calls; or an error; `echo` repeats the last user/tool text."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    thinking: str | None = None
    tool: str | None = Field(default=None, description="shorthand for one tool call: its name")
    input: Any = None
    tools: list[ToolCall] = Field(default_factory=list)
    echo: bool = False
    error: ErrorReply | None = None
    chunk_delay_ms: int = 0
    initial_delay_ms: int = 0

    def calls(self) -> list[ToolCall]:
        out = list(self.tools)
        if self.tool:
            out.insert(0, ToolCall(name=self.tool, input=self.input if self.input is not None else {}))
        return out


EXHAUSTED = Reply(text="(fake: script exhausted)")


def load_script(path: str | Path) -> list[Reply]:
    """A list of replies (or `{replies: [...]}`) in JSON, or in YAML when the file ends in .yaml/.yml."""
    raw = Path(path).read_bytes()
    if str(path).endswith((".yaml", ".yml")):
        import yaml

        data = yaml.safe_load(raw)
    else:
        data = orjson.loads(raw)
    if isinstance(data, dict):
        data = data.get("replies", [])
    return [Reply.model_validate(r) for r in data]


class ScriptQueue:
    """Main requests pop replies in order; side requests (titles, classifiers) never do."""

    def __init__(self, replies: list[Reply] | None = None) -> None:
        self.replies: list[Reply] = list(replies or [])
        self.used = 0
        self.log: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def pop(self) -> tuple[int | None, Reply]:
        if self.used < len(self.replies):
            self.used += 1
            return self.used - 1, self.replies[self.used - 1]
        return None, EXHAUSTED

    def record(
        self, api: str, path: str, kind: str, body: Any, headers: dict[str, str], index: int | None, reply: Reply | None
    ) -> None:
        safe = {k: (v[:12] + "...") if k.lower() in ("authorization", "x-api-key") else v for k, v in headers.items()}
        self.log.append(
            {
                "api": api,
                "path": path,
                "kind": kind,
                "model": body.get("model") if isinstance(body, dict) else None,
                "reply_index": index,
                "reply": reply.model_dump(exclude_defaults=True) if reply else None,
                "headers": safe,
                "body": body,
            }
        )


def last_user_text(messages: list[Any]) -> str:
    """The newest user text or tool result in a chat history, for `echo` replies."""
    for message in reversed(messages or []):
        if not isinstance(message, dict):
            continue
        if message.get("type") in ("function_call_output", "custom_tool_call_output"):
            return str(message.get("output", ""))
        content = message.get("content")
        if message.get("role") in ("user", "tool") or message.get("type") == "message":
            if isinstance(content, str):
                return content
            for part in reversed(content or []):
                if isinstance(part, dict):
                    if part.get("type") in ("text", "input_text") and part.get("text"):
                        return str(part["text"])
                    if part.get("type") == "tool_result":
                        inner = part.get("content")
                        if isinstance(inner, list):
                            return " ".join(str(c.get("text", "")) for c in inner if isinstance(c, dict))
                        return str(inner)
    return ""


def stub_from_schema(schema: Any) -> Any:
    """A minimal value matching a JSON schema: what a side request asking for structured output gets."""
    if not isinstance(schema, dict):
        return "fake"
    kind = schema.get("type")
    if schema.get("enum"):
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: stub_from_schema(v) for k, v in props.items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    return "Fake title"
