"""A real MCP client: the real `claude` drives `sandbox-agent mcp`, its model scripted by our fake provider to
start a mock session, send it a message that asks permission, and approve it."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from sandbox_agent.agents.launch_env import claude_launch
from sandbox_agent.client import SandboxAgent
from sandbox_agent.install import Installer
from sandbox_agent.testing import FakeLLM

pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]


async def test_claude_orchestrates_a_mock_session_through_mcp(tmp_path: Path) -> None:
    command = (await Installer().install("claude")).command
    state = tmp_path / "mcp-daemon"
    work = tmp_path / "work"
    work.mkdir()
    config = {
        "mcpServers": {
            "agents": {
                "type": "stdio",
                "command": sys.executable,
                "args": ["-m", "sandbox_agent", "mcp", "--state-dir", str(state), "--log-level", "warning"],
                # `claude -p` starts the turn without waiting for MCP servers unless told to; the scripted model
                # answers at once, so without this its first call can find the tools not there yet.
                "alwaysLoad": True,
            }
        }
    }
    script = [
        {"tool": "mcp__agents__start_session", "input": {"agent": "mock", "cwd": str(work)}},
        {
            "tool": "mcp__agents__send_message",
            "input": {"session_id": "{{result:session_id}}", "text": "permission approved.txt"},
        },
        {
            "tool": "mcp__agents__reply_permission",
            "input": {
                "session_id": "{{result:session_id}}",
                "permission_id": "{{result:pending.0.id}}",
                "reply": "once",
            },
        },
        {"text": "all done"},
    ]
    async with FakeLLM(script) as fake:
        launch = claude_launch(
            {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-test"}, tmp_path / "claude"
        )
        proc = await asyncio.create_subprocess_exec(
            *command,
            "-p",
            "use the agents server",
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-mode",
            "bypassPermissions",
            "--mcp-config",
            json.dumps(config),
            cwd=work,
            env=launch.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 180)
        assert proc.returncode == 0, err.decode()
        lines = [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]
        assert lines[-1]["type"] == "result" and lines[-1]["result"] == "all done"
        results = [
            b
            for x in lines
            if x["type"] == "user"
            for b in x["message"]["content"]
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        assert len(results) == 3 and not any(r.get("is_error") for r in results), results
        assert '"awaiting_input"' in str(results[1]) and '"completed"' in str(results[2])
        assert "Permission granted (once); wrote approved.txt." in str(results[2])
        init = next(x for x in lines if x.get("subtype") == "init")
        assert {"name": "agents", "status": "connected"} in init["mcp_servers"]
    # the mock session really got the reply: read the MCP daemon's journal
    async with await SandboxAgent.start(state_dir=str(state)) as client:
        (session,) = await client.list_sessions()
        events, _, _ = await client.read_events(session.session_id, 0, 200)
        resolved = [e for e in events if e.type == "permission.resolved"]
        assert resolved and resolved[0].data.status == "accept"  # type: ignore[union-attr]
        assert any(e.type == "item.completed" and e.data.item.kind == "file_change" for e in events)  # type: ignore[union-attr]
