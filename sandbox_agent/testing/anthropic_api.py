"""Anthropic Messages API (streaming SSE and plain JSON), enough for Claude Code and Amp's JS build."""

from __future__ import annotations

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
        blocks.append({"type": "tool_use", "id": queue.next_id("toolu_fake_"), "name": call.name, "input": call.input})
    return blocks or [{"type": "text", "text": ""}]


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
