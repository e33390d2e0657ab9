"""The fake provider's Gemini API (what the pinned Gemini CLI calls): streamed text, thoughts and function calls,
side requests answered by schema without using up the script, countTokens, errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sandbox_agent.testing import FakeLLM

pytestmark = pytest.mark.anyio

TOOLS = [{"functionDeclarations": [{"name": "write_file", "parameters": {"type": "OBJECT"}}]}]


def chunks(body: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]


def parts(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for e in events for c in e["candidates"] for p in c["content"]["parts"]]


async def test_stream_text_thought_and_function_call() -> None:
    call = {"tool": "write_file", "input": {"file_path": "/a", "content": "b"}}
    replies = [{"thinking": "hmm", "text": "x" * 70, **call}]
    async with FakeLLM(replies) as fake, httpx.AsyncClient(base_url=fake.url) as http:
        body = {"contents": [{"role": "user", "parts": [{"text": "go"}]}], "tools": TOOLS}
        r = await http.post("/v1beta/models/gemini-x:streamGenerateContent?alt=sse", json=body)
        assert r.headers["content-type"].startswith("text/event-stream")
        events = chunks(r.text)
        got = parts(events)
        assert "".join(p["text"] for p in got if p.get("thought")) == "hmm"
        assert "".join(p.get("text", "") for p in got if not p.get("thought")) == "x" * 70
        assert len([p for p in got if p.get("text") and not p.get("thought")]) >= 3, "text streams in pieces"
        call = next(p["functionCall"] for p in got if "functionCall" in p)
        assert call["name"] == "write_file" and call["args"] == {"file_path": "/a", "content": "b"}
        assert events[-1]["candidates"][0]["finishReason"] == "STOP" and events[-1]["usageMetadata"]["totalTokenCount"]
        assert fake.main_requests()[0]["model"] == "gemini-x"


async def test_echo_repeats_the_function_response() -> None:
    async with FakeLLM([{"echo": True}]) as fake, httpx.AsyncClient(base_url=fake.url) as http:
        contents = [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "run", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "run", "response": {"output": "42 lines"}}}]},
        ]
        r = await http.post("/v1beta/models/m:generateContent", json={"contents": contents, "tools": TOOLS})
        assert r.json()["candidates"][0]["content"]["parts"] == [{"text": "42 lines"}]


async def test_side_request_gets_json_by_schema_and_keeps_the_script() -> None:
    schema = {
        "type": "OBJECT",
        "properties": {"complexity_reasoning": {"type": "STRING"}, "complexity_score": {"type": "INTEGER"}},
    }
    async with FakeLLM([{"text": "main"}]) as fake, httpx.AsyncClient(base_url=fake.url) as http:
        config = {"responseMimeType": "application/json", "responseJsonSchema": schema}
        r = await http.post("/v1beta/models/lite:generateContent", json={"contents": [], "generationConfig": config})
        answer = json.loads(r.json()["candidates"][0]["content"]["parts"][0]["text"])
        assert isinstance(answer["complexity_reasoning"], str) and answer["complexity_score"] == 1
        assert fake.queue.used == 0 and fake.requests[0]["kind"] == "side"
        tokens = await http.post("/v1beta/models/lite:countTokens", json={"contents": [{"parts": [{"text": "a"}]}]})
        assert tokens.json()["totalTokens"] >= 1


async def test_scripted_error() -> None:
    async with FakeLLM([{"error": {"status": 429, "message": "slow down"}}]) as fake, httpx.AsyncClient(
        base_url=fake.url
    ) as http:
        r = await http.post("/v1beta/models/m:streamGenerateContent?alt=sse", json={"contents": [], "tools": TOOLS})
        assert r.status_code == 429 and r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        missing = await http.post("/v1beta/models/m:embedContent", json={})
        assert missing.status_code == 404
