"""The scripted fake providers: wire formats, errors with retry hints, side requests, and the control API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sandbox_agent.testing import FakeLLM, Reply

pytestmark = pytest.mark.anyio
TOOLS = [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]


def sse_events(text: str) -> list[dict]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ") and line[6:] != "[DONE]"]


async def test_anthropic_stream_text_thinking_and_tool() -> None:
    async with FakeLLM(
        [Reply(thinking="hmm", text="I will run it", tool="Bash", input={"command": "ls -la /tmp"})]
    ) as fake:
        async with httpx.AsyncClient() as http:
            r = await http.post(
                fake.url + "/v1/messages?beta=true", json={"model": "m", "stream": True, "tools": TOOLS, "messages": []}
            )
        events = sse_events(r.text)
        kinds = [e["type"] for e in events]
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
        starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
        assert starts == ["thinking", "text", "tool_use"]
        args = "".join(
            e["delta"]["partial_json"]
            for e in events
            if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
        )
        assert json.loads(args) == {"command": "ls -la /tmp"}
        assert next(e for e in events if e["type"] == "message_delta")["delta"]["stop_reason"] == "tool_use"


async def test_side_requests_never_eat_the_script() -> None:
    async with FakeLLM([Reply(text="main reply")]) as fake, httpx.AsyncClient() as http:
        title = await http.post(
            fake.url + "/v1/messages",
            json={
                "model": "haiku",
                "messages": [{"role": "user", "content": "x"}],
                "output_config": {
                    "format": {
                        "type": "json_schema",
                        "schema": {"type": "object", "properties": {"title": {"type": "string"}}},
                    }
                },
            },
        )
        assert json.loads(title.json()["content"][0]["text"]) == {"title": "Fake title"}
        forced = await http.post(
            fake.url + "/api/provider/anthropic/v1/messages",
            json={
                "model": "haiku",
                "messages": [],
                "tool_choice": {"type": "tool", "name": "set_title"},
                "tools": [
                    {
                        "name": "set_title",
                        "input_schema": {"type": "object", "properties": {"title": {"type": "string"}}},
                    }
                ],
            },
        )
        assert forced.json()["content"][0] == {
            **forced.json()["content"][0],
            "name": "set_title",
            "input": {"title": "Fake title"},
        }
        chat_title = await http.post(fake.url + "/v1/chat/completions", json={"model": "m", "messages": []})
        assert chat_title.json()["choices"][0]["message"]["content"] == "Fake session title"
        main = await http.post(fake.url + "/v1/messages", json={"model": "m", "tools": TOOLS, "messages": []})
        assert main.json()["content"][0]["text"] == "main reply"
        exhausted = await http.post(fake.url + "/v1/messages", json={"model": "m", "tools": TOOLS, "messages": []})
        assert "script exhausted" in exhausted.json()["content"][0]["text"]
        assert [r["kind"] for r in fake.requests] == ["side", "side", "side", "main", "main"]
        assert fake.requests[3]["reply_index"] == 0 and fake.requests[4]["reply_index"] is None


@pytest.mark.parametrize(
    ("status", "type_"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (429, "rate_limit_error"),
        (529, "overloaded_error"),
        (500, "api_error"),
    ],
)
async def test_errors_with_retry_hints(status: int, type_: str) -> None:
    err = {
        "status": status,
        "type": type_,
        "message": "scripted failure",
        "retry_after": 0 if status in (429, 529) else None,
    }
    async with FakeLLM([{"error": err}, {"text": "after the error"}]) as fake, httpx.AsyncClient() as http:
        r = await http.post(fake.url + "/v1/messages", json={"model": "m", "tools": TOOLS, "messages": []})
        assert r.status_code == status and r.json()["error"]["type"] == type_
        assert ("retry-after" in r.headers) == (status in (429, 529))
        again = await http.post(fake.url + "/v1/messages", json={"model": "m", "tools": TOOLS, "messages": []})
        assert again.json()["content"][0]["text"] == "after the error"


async def test_responses_and_chat_wire_formats() -> None:
    replies = [
        Reply(thinking="plan", text="hi"),
        Reply(tools=[{"name": "apply_patch", "input": "*** Begin Patch\n*** End Patch\n", "custom": True}]),
        Reply(tool="bash", input={"command": "ls"}),
    ]
    async with FakeLLM(replies) as fake, httpx.AsyncClient() as http:
        body = {"model": "m", "stream": True, "tools": [{"type": "function", "name": "x"}], "input": []}
        events = sse_events((await http.post(fake.url + "/v1/responses", json=body)).text)
        assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
        assert [i["type"] for i in events[-1]["response"]["output"]] == ["reasoning", "message"]
        assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == "hi"
        events = sse_events((await http.post(fake.url + "/v1/responses", json=body)).text)
        assert events[-1]["response"]["output"][0]["type"] == "custom_tool_call"
        chat = {"model": "m", "stream": True, "tools": [{"type": "function"}], "messages": []}
        text = (await http.post(fake.url + "/v1/chat/completions", json=chat)).text
        assert text.rstrip().endswith("data: [DONE]")
        chunks = sse_events(text)
        args = "".join(
            c["choices"][0]["delta"].get("tool_calls", [{}])[0].get("function", {}).get("arguments", "")
            for c in chunks
            if c["choices"]
        )
        assert json.loads(args) == {"command": "ls"}
        assert chunks[-1]["usage"]["total_tokens"] == 19


async def test_control_endpoints() -> None:
    async with FakeLLM() as fake, httpx.AsyncClient() as http:
        await http.post(fake.url + "/_fake/enqueue", json={"replies": [{"text": "one"}]})
        fake.enqueue({"text": "two"})
        for expected in ("one", "two"):
            r = await http.post(fake.url + "/v1/messages", json={"model": "m", "tools": TOOLS, "messages": []})
            assert r.json()["content"][0]["text"] == expected
        log = (await http.get(fake.url + "/_fake/log")).json()
        assert [e["reply"]["text"] for e in log] == ["one", "two"]
        await http.post(fake.url + "/_fake/reset", json={})
        assert (await http.get(fake.url + "/_fake/log")).json() == []


def test_fake_llm_cli(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "from the file"}]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox_agent", "fake-llm", "--script", str(script)], stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        url = line.split("listening on ")[1].split()[0]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                r = httpx.post(url + "/v1/messages", json={"model": "m", "tools": TOOLS, "messages": []})
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert r.json()["content"][0]["text"] == "from the file"
    finally:
        proc.terminate()
        proc.wait(10)
    bad = subprocess.run(
        [sys.executable, "-m", "sandbox_agent", "fake-llm", "--script", "/nope.json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 1 and "cannot read the script" in bad.stderr and "Traceback" not in bad.stderr


def test_yaml_scripts(tmp_path: Path) -> None:
    from sandbox_agent.testing import load_script

    path = tmp_path / "s.yaml"
    path.write_text("replies:\n  - tool: Bash\n    input: {command: ls}\n  - text: done\n")
    replies = load_script(path)
    assert replies[0].calls()[0].name == "Bash" and replies[1].text == "done"
