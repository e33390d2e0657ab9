"""The Gemini API (`models/{model}:streamGenerateContent?alt=sse`, `:generateContent`, `:countTokens`), enough for
the pinned Gemini CLI: text, thought parts, function calls, usage; side requests (its model router asks for JSON
by schema) get a stub that matches the schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from .script import Reply, ScriptQueue, stub_from_schema
from .sse import pieces, sse

USAGE = {"promptTokenCount": 12, "candidatesTokenCount": 7, "totalTokenCount": 19}


def is_main(body: dict[str, Any]) -> bool:
    """A turn of the agent loop carries the tool declarations; the router and checkers do not."""
    return bool(body.get("tools"))


def last_user_text(contents: list[Any]) -> str:
    """The newest user text or function response, for `echo` replies."""
    for content in reversed(contents or []):
        if not isinstance(content, dict) or content.get("role") not in (None, "user", "function"):
            continue
        for part in reversed(content.get("parts") or []):
            if not isinstance(part, dict):
                continue
            if "functionResponse" in part:
                response = (part["functionResponse"] or {}).get("response")
                if isinstance(response, dict) and len(response) == 1:
                    response = next(iter(response.values()))
                return response if isinstance(response, str) else orjson.dumps(response).decode()
            if part.get("text"):
                return str(part["text"])
    return ""


def parts_for(reply: Reply, body: dict[str, Any], queue: ScriptQueue) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if reply.thinking:
        parts.append({"text": reply.thinking, "thought": True})
    text = last_user_text(body.get("contents", [])) if reply.echo else reply.text
    if text:
        parts.append({"text": text})
    for call in reply.calls():
        args = call.input if isinstance(call.input, dict) else {"input": call.input}
        parts.append({"functionCall": {"id": queue.next_id("call_"), "name": call.name, "args": args}})
    return parts or [{"text": ""}]


def _lower_types(schema: Any) -> Any:
    """Gemini writes JSON-schema types in upper case (OBJECT, INTEGER)."""
    if isinstance(schema, dict):
        return {k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_lower_types(v) for v in schema]
    return schema


def _ones(value: Any) -> Any:
    """Numbers as 1, not 0: the CLI's model router wants a complexity score of 1-100 (1 = simple)."""
    if isinstance(value, dict):
        return {k: _ones(v) for k, v in value.items()}
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return 1
    return value


def side_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    config = body.get("generationConfig") or {}
    schema = _lower_types(config.get("responseJsonSchema") or config.get("responseSchema"))
    if schema is not None or config.get("responseMimeType") == "application/json":
        stub = _ones(stub_from_schema(schema or {"type": "object"}))
        return [{"text": orjson.dumps(stub).decode()}]
    return [{"text": "ok"}]


def response(parts: list[dict[str, Any]], model: str, response_id: str) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": USAGE,
        "modelVersion": model,
        "responseId": response_id,
    }


def stream(parts: list[dict[str, Any]], model: str, response_id: str) -> Iterator[bytes]:
    """Text and thoughts in small chunks, each function call whole (as Gemini sends them), then the finish."""

    def chunk(part: dict[str, Any]) -> bytes:
        candidate = {"content": {"role": "model", "parts": [part]}, "index": 0}
        return sse(None, {"candidates": [candidate], "modelVersion": model, "responseId": response_id})

    for part in parts:
        if part.get("text"):
            for piece in pieces(part["text"]):
                yield chunk({**part, "text": piece})
        elif "functionCall" in part:
            yield chunk(part)
    finish = {"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}
    yield sse(None, {"candidates": [finish], "usageMetadata": USAGE, "modelVersion": model, "responseId": response_id})


def error_body(reply: Reply) -> dict[str, Any]:
    assert reply.error is not None
    status = {429: "RESOURCE_EXHAUSTED", 400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED"}.get(
        reply.error.status, "INTERNAL"
    )
    return {"error": {"code": reply.error.status, "message": reply.error.message, "status": status}}
