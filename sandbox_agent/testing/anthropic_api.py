"""Anthropic Messages API (streaming SSE and plain JSON), enough for Claude Code and Amp's JS build."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from .script import Reply, ScriptQueue, last_user_text, stub_from_schema
from .sse import pieces, sse


def is_main(body: dict[str, Any]) -> bool:
    """Agent-loop requests carry tools (not forced to one) or Claude Code's system prompt; the rest are side jobs."""
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        return False
    if body.get("tools"):
        return True
    system = body.get("system")
    text = (
        system if isinstance(system, str) else " ".join(b.get("text", "") for b in system or [] if isinstance(b, dict))
    )
    return "software engineering" in text


def side_blocks(body: dict[str, Any], queue: ScriptQueue) -> list[dict[str, Any]]:
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        tool = next((t for t in body.get("tools", []) if t.get("name") == choice.get("name")), {})
        stub = stub_from_schema(tool.get("input_schema", {}))
        return [{"type": "tool_use", "id": queue.next_id("toolu_side_"), "name": choice.get("name"), "input": stub}]
    fmt = (body.get("output_config") or {}).get("format") or {}
    if isinstance(fmt, dict) and fmt.get("schema"):
        return [{"type": "text", "text": orjson.dumps(stub_from_schema(fmt["schema"])).decode()}]
    return [{"type": "text", "text": "Fake title"}]


def blocks_for(reply: Reply, body: dict[str, Any], queue: ScriptQueue) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.thinking:
        blocks.append({"type": "thinking", "thinking": reply.thinking, "signature": "fake-signature"})
    text = last_user_text(body.get("messages", [])) if reply.echo else reply.text
    if text is not None:
        blocks.append({"type": "text", "text": text})
    for call in reply.calls():
        args = fill_templates(call.input, last_tool_result(body.get("messages", [])))
        blocks.append({"type": "tool_use", "id": queue.next_id("toolu_fake_"), "name": call.name, "input": args})
    return blocks or [{"type": "text", "text": ""}]


TEMPLATE = re.compile(r"\{\{result:([\w.]+)\}\}")


def last_tool_result(messages: list[Any]) -> Any:
    """The newest tool_result in the history, parsed as JSON when it is JSON (MCP tools return JSON text)."""
    for message in reversed(messages or []):
        content = message.get("content") if isinstance(message, dict) else None
        for block in reversed(content if isinstance(content, list) else []):
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                text = (
                    inner
                    if isinstance(inner, str)
                    else "".join(c.get("text", "") for c in inner or [] if isinstance(c, dict))
                )
                try:
                    return orjson.loads(text)
                except orjson.JSONDecodeError:
                    return text
    return None


def fill_templates(value: Any, result: Any) -> Any:
    """Replace `{{result:a.b.0.c}}` in scripted tool input with that path of the latest tool result, so a script
    can pass ids it cannot know in advance (a session id, a permission id) from one call to the next."""
    if isinstance(value, dict):
        return {k: fill_templates(v, result) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_templates(v, result) for v in value]
    if not isinstance(value, str) or "{{result:" not in value:
        return value

    def lookup(match: re.Match[str]) -> str:
        node = result
        for key in match.group(1).split("."):
            node = (
                node[int(key)] if isinstance(node, list) else (node or {}).get(key) if isinstance(node, dict) else None
            )
        return "" if node is None else str(node)

    return TEMPLATE.sub(lookup, value)


def message(blocks: list[dict[str, Any]], model: str, msg_id: str) -> dict[str, Any]:
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 7,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def stream(msg: dict[str, Any]) -> Iterator[bytes]:
    start = {**msg, "content": [], "stop_reason": None, "usage": {**msg["usage"], "output_tokens": 1}}
    yield sse("message_start", {"type": "message_start", "message": start})
    yield sse("ping", {"type": "ping"})
    for index, block in enumerate(msg["content"]):
        kind = block["type"]
        if kind == "text":
            yield sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
            )
            for piece in pieces(block["text"]):
                delta = {"type": "text_delta", "text": piece}
                yield sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        elif kind == "thinking":
            empty = {"type": "thinking", "thinking": "", "signature": ""}
            yield sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": empty})
            for piece in pieces(block["thinking"]):
                delta = {"type": "thinking_delta", "thinking": piece}
                yield sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            delta = {"type": "signature_delta", "signature": block["signature"]}
            yield sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        else:
            head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            yield sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": head})
            for piece in pieces(orjson.dumps(block["input"]).decode()):
                delta = {"type": "input_json_delta", "partial_json": piece}
                yield sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        yield sse("content_block_stop", {"type": "content_block_stop", "index": index})
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
        "usage": {"output_tokens": 7},
    }
    yield sse("message_delta", end)
    yield sse("message_stop", {"type": "message_stop"})


def error_body(reply: Reply) -> dict[str, Any]:
    assert reply.error is not None
    return {"type": "error", "error": {"type": reply.error.type, "message": reply.error.message}}
