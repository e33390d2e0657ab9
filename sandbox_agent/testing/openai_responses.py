"""OpenAI Responses API (SSE), enough for Codex: text, reasoning summaries, function and custom tool calls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson

from .script import Reply, ScriptQueue, last_user_text
from .sse import pieces, sse


def output_items(reply: Reply, body: dict[str, Any], queue: ScriptQueue) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if reply.thinking:
        items.append(
            {
                "id": queue.next_id("rs_"),
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": reply.thinking}],
            }
        )
    text = last_user_text(body.get("input", [])) if reply.echo else reply.text
    if text is not None:
        items.append(
            {
                "id": queue.next_id("msg_"),
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    for call in reply.calls():
        call_id = queue.next_id("call_")
        if call.custom:
            items.append(
                {
                    "id": queue.next_id("ctc_"),
                    "type": "custom_tool_call",
                    "status": "completed",
                    "call_id": call_id,
                    "name": call.name,
                    "input": call.input if isinstance(call.input, str) else orjson.dumps(call.input).decode(),
                }
            )
        else:
            args = call.input if isinstance(call.input, str) else orjson.dumps(call.input).decode()
            items.append(
                {
                    "id": queue.next_id("fc_"),
                    "type": "function_call",
                    "status": "completed",
                    "call_id": call_id,
                    "name": call.name,
                    "arguments": args,
                }
            )
    return items or [
        {
            "id": queue.next_id("msg_"),
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "", "annotations": []}],
        }
    ]


def stream(items: list[dict[str, Any]], model: str, resp_id: str) -> Iterator[bytes]:
    seq = iter(range(1_000_000))
    base = {"id": resp_id, "object": "response", "created_at": int(time.time()), "model": model}

    def ev(kind: str, **fields: Any) -> bytes:
        return sse(kind, {"type": kind, "sequence_number": next(seq), **fields})

    yield ev("response.created", response={**base, "status": "in_progress", "output": []})
    yield ev("response.in_progress", response={**base, "status": "in_progress", "output": []})
    for i, item in enumerate(items):
        kind = item["type"]
        if kind == "message":
            yield ev(
                "response.output_item.added", output_index=i, item={**item, "status": "in_progress", "content": []}
            )
            text = item["content"][0]["text"]
            part = {"type": "output_text", "text": "", "annotations": []}
            yield ev("response.content_part.added", item_id=item["id"], output_index=i, content_index=0, part=part)
            for piece in pieces(text):
                yield ev("response.output_text.delta", item_id=item["id"], output_index=i, content_index=0, delta=piece)
            yield ev("response.output_text.done", item_id=item["id"], output_index=i, content_index=0, text=text)
            yield ev(
                "response.content_part.done",
                item_id=item["id"],
                output_index=i,
                content_index=0,
                part={**part, "text": text},
            )
        elif kind == "reasoning":
            yield ev("response.output_item.added", output_index=i, item={**item, "summary": []})
            text = item["summary"][0]["text"]
            yield ev(
                "response.reasoning_summary_part.added",
                item_id=item["id"],
                output_index=i,
                summary_index=0,
                part={"type": "summary_text", "text": ""},
            )
            for piece in pieces(text):
                yield ev(
                    "response.reasoning_summary_text.delta",
                    item_id=item["id"],
                    output_index=i,
                    summary_index=0,
                    delta=piece,
                )
            yield ev(
                "response.reasoning_summary_text.done", item_id=item["id"], output_index=i, summary_index=0, text=text
            )
        elif kind == "function_call":
            yield ev(
                "response.output_item.added", output_index=i, item={**item, "status": "in_progress", "arguments": ""}
            )
            for piece in pieces(item["arguments"]):
                yield ev("response.function_call_arguments.delta", item_id=item["id"], output_index=i, delta=piece)
            yield ev(
                "response.function_call_arguments.done", item_id=item["id"], output_index=i, arguments=item["arguments"]
            )
        else:
            yield ev("response.output_item.added", output_index=i, item={**item, "status": "in_progress", "input": ""})
            for piece in pieces(item["input"]):
                yield ev("response.custom_tool_call_input.delta", item_id=item["id"], output_index=i, delta=piece)
            yield ev("response.custom_tool_call_input.done", item_id=item["id"], output_index=i, input=item["input"])
        yield ev("response.output_item.done", output_index=i, item=item)
    usage = {
        "input_tokens": 12,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 19,
    }
    yield ev("response.completed", response={**base, "status": "completed", "output": items, "usage": usage})
