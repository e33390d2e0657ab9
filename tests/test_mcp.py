"""The MCP facade with the SDK's own client: in-process, over stdio (`sandbox-agent mcp`) and streamable HTTP."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from sandbox_agent.mcp.backend import InProcessBackend
from sandbox_agent.mcp.facade import build_server
from sandbox_agent.server.daemon import Daemon

pytestmark = pytest.mark.anyio


@pytest.fixture
async def inproc() -> AsyncIterator[Client]:
    daemon = Daemon(ephemeral=True)
    await daemon.start()
    try:
        async with Client(build_server(InProcessBackend(daemon))) as client:
            yield client
    finally:
        await daemon.stop()


async def tool(client: Client, name: str, args: dict[str, Any], **kw: Any) -> Any:
    result = await client.call_tool(name, args, **kw)
    assert not result.is_error, result.content
    return result.structured_content


async def exercise_every_tool(client: Client) -> None:
    names = {t.name for t in (await client.list_tools()).tools}
    assert names == {
        "list_agents",
        "start_session",
        "send_message",
        "get_events",
        "reply_permission",
        "answer_question",
        "interrupt",
        "end_session",
        "run_command",
        "read_file",
        "write_file",
    }
    agents = await tool(client, "list_agents", {})
    assert any(a["id"] == "mock" and a["installed"] for a in agents["agents"])
    sid = (await tool(client, "start_session", {"agent": "mock"}))["session_id"]

    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    done = await tool(client, "send_message", {"session_id": sid, "text": "everything"}, progress_callback=on_progress)
    assert done["status"] == "completed" and done["text"] == "Done with everything."
    assert done["commands"] == ["echo hello -> exit 0"] and done["file_changes"] == ["everything.txt (write)"]
    assert done["tool_calls"] == ["search (completed)"]
    assert progress, "long waits report MCP progress as items arrive"

    asked = await tool(client, "send_message", {"session_id": sid, "text": "permission p.txt"})
    assert asked["status"] == "awaiting_input" and asked["pending"][0]["kind"] == "permission"
    after = await tool(
        client,
        "reply_permission",
        {"session_id": sid, "permission_id": asked["pending"][0]["id"], "reply": "reject", "message": "not here"},
    )
    assert after["status"] == "completed" and after["text"] == "Permission denied: not here"

    q = await tool(client, "send_message", {"session_id": sid, "text": "question Pick one"})
    assert q["pending"][0]["kind"] == "question" and q["pending"][0]["options"] == ["Red", "Green", "Blue"]
    answered = await tool(
        client, "answer_question", {"session_id": sid, "question_id": q["pending"][0]["id"], "answers": [["Red"]]}
    )
    assert answered["text"] == "You chose Red."
    q2 = await tool(client, "send_message", {"session_id": sid, "text": "question Again?"})
    rejected = await tool(
        client, "answer_question", {"session_id": sid, "question_id": q2["pending"][0]["id"], "reject": True}
    )
    assert rejected["text"] == "You declined to answer."

    running = await tool(client, "send_message", {"session_id": sid, "text": "slow 30", "timeout": 0.5})
    assert running["status"] == "running"
    assert (await tool(client, "interrupt", {"session_id": sid}))["detail"] == "interrupted"

    page = await tool(
        client, "get_events", {"session_id": sid, "types": ["permission.requested", "question.requested"]}
    )
    assert [e["type"] for e in page["events"]] == ["permission.requested", "question.requested", "question.requested"]

    transcript = await client.read_resource(f"sandbox-agent://sessions/{sid}/transcript")
    text = transcript.contents[0].text  # type: ignore[union-attr]
    assert "**user**: permission p.txt" in text and "Permission denied: not here" in text
    raw = await client.read_resource(f"sandbox-agent://sessions/{sid}/events")
    assert '"session.started"' in raw.contents[0].text  # type: ignore[union-attr]

    ended = await tool(client, "end_session", {"session_id": sid})
    assert ended["status"] == "ended"
    bad = await client.call_tool("send_message", {"session_id": "nope", "text": "x"})
    assert bad.is_error and "[session_not_found]" in bad.content[0].text  # type: ignore[union-attr]
    bad = await client.call_tool("start_session", {"agent": "nobody"})
    assert bad.is_error and "[agent_not_found]" in bad.content[0].text  # type: ignore[union-attr]


async def test_in_process(inproc: Client) -> None:
    await exercise_every_tool(inproc)


async def test_stdio_subprocess(tmp_path) -> None:  # type: ignore[no-untyped-def]
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "sandbox_agent", "mcp", "--ephemeral", "--log-level", "warning"]
    )
    async with Client(params) as client:
        await exercise_every_tool(client)


async def test_streamable_http_behind_the_token(server) -> None:  # type: ignore[no-untyped-def]
    async with httpx2.AsyncClient(headers=server.headers(), timeout=60) as http:
        async with Client(streamable_http_client(server.url + "/mcp", http_client=http)) as client:
            await exercise_every_tool(client)
    async with httpx2.AsyncClient(timeout=10) as http:
        r = await http.post(server.url + "/mcp", json={})
        assert r.status_code == 401
