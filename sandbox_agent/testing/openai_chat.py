"""OpenAI Chat Completions (streaming and plain), enough for OpenCode: text and tool_calls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson

from .script import Reply, ScriptQueue, last_user_text
from .sse import pieces, sse


def choice_message(reply: Reply, body: dict[str, Any], queue: ScriptQueue) -> dict[str, Any]:
    text = last_user_text(body.get("messages", [])) if reply.echo else reply.text
    calls = [
        {
            "id": queue.next_id("call_"),
            "type": "function",
            "function": {
                "name": c.name,
                "arguments": c.input if isinstance(c.input, str) else orjson.dumps(c.input).decode(),
            },
        }
        for c in reply.calls()
    ]
    msg: dict[str, Any] = {"role": "assistant", "content": text if text is not None else ("" if not calls else None)}
    if reply.thinking:
        msg["reasoning_content"] = reply.thinking
    if calls:
        msg["tool_calls"] = calls
    return msg


def completion(msg: dict[str, Any], model: str, cid: str) -> dict[str, Any]:
    finish = "tool_calls" if msg.get("tool_calls") else "stop"
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
    }


def stream(msg: dict[str, Any], model: str, cid: str) -> Iterator[bytes]:
    base = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse(None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    yield chunk({"role": "assistant", "content": ""})
    if msg.get("reasoning_content"):
        for piece in pieces(msg["reasoning_content"]):
            yield chunk({"reasoning_content": piece})
    if msg.get("content"):
        for piece in pieces(msg["content"]):
            yield chunk({"content": piece})
    for index, call in enumerate(msg.get("tool_calls", [])):
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        yield chunk({"tool_calls": [head]})
        for piece in pieces(call["function"]["arguments"]):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls" if msg.get("tool_calls") else "stop")
    yield sse(None, {**base, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}})
    yield sse(None, b"[DONE]")
