"""`sandbox-agent acp` driven by the official ACP TypeScript client (@agentclientprotocol/sdk from npm, installed
by this test into a cache under $XDG_DATA_HOME): mock and real claude sessions, streamed updates, permissions,
questions as elicitation, cancel, session/load after a restart; and malformed ACP gets JSON-RPC errors."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox_agent.install import Installer
from sandbox_agent.install.npm import npm_install
from sandbox_agent.testing import FakeLLM

pytestmark = pytest.mark.anyio

SDK_VERSION = "2.4.0"
CLIENT_SCRIPT = Path(__file__).parent / "acp_client" / "client.mjs"
SANDBOX_AGENT = [sys.executable, "-m", "sandbox_agent"]


@pytest.fixture(scope="module")
def acp_client() -> Path:
    """The client script beside a pinned @agentclientprotocol/sdk, in a cache outside the clone."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    folder = base / "sandbox-agent-tests" / "acp-client" / SDK_VERSION
    if not (folder / "node_modules" / "@agentclientprotocol" / "sdk" / "package.json").is_file():
        asyncio.run(npm_install("@agentclientprotocol/sdk", SDK_VERSION, folder))
    shutil.copy(CLIENT_SCRIPT, folder / "client.mjs")
    return folder / "client.mjs"


async def run_plan(script: Path, plan: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node",
        str(script),
        json.dumps(plan),
        stdout=asyncio.subprocess.PIPE,
        cwd=script.parent,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return json.loads(out.decode().strip().splitlines()[-1])


def acp_command(*extra: str) -> list[str]:
    return [*SANDBOX_AGENT, "acp", *extra]


def texts(updates: list[dict[str, Any]], kind: str = "agent_message_chunk") -> str:
    return "".join(u["content"]["text"] for u in updates if u["sessionUpdate"] == kind)


async def test_mock_session_streams_updates_permissions_and_cancel(acp_client: Path, tmp_path: Path) -> None:
    plan = {
        "command": acp_command("--ephemeral"),
        "permission": "once",
        "steps": [
            {"op": "initialize"},
            {"op": "new", "cwd": str(tmp_path), "meta": {"sandboxAgent": {"agent": "mock"}}},
            {"op": "prompt", "text": "tool thing"},
            {"op": "prompt", "text": "permission"},
            {"op": "prompt", "text": "slow 20", "cancelAfterUpdates": 3},
            {"op": "prompt", "text": "after the cancel"},
            {"op": "list"},
        ],
    }
    report = await run_plan(acp_client, plan)
    init, new, tool, permission, slow, after, listed = report["steps"]
    assert init["result"]["agentCapabilities"]["loadSession"] is True
    agents = set(init["result"]["_meta"]["sandboxAgent"]["agents"])
    assert {"mock", "claude", "codex", "opencode", "amp", "gemini", "pi"} <= agents
    assert new["result"]["sessionId"].startswith("ses_")
    # streamed: a tool call, its result, then the reply in several chunks
    kinds = [u["sessionUpdate"] for u in tool["updates"]]
    assert kinds[0] == "tool_call" and "tool_call_update" in kinds
    assert sum(k == "agent_message_chunk" for k in kinds) >= 2
    assert tool["result"]["stopReason"] == "end_turn" and tool["result"]["usage"]["outputTokens"] > 0
    # the permission went to the client, which allowed it once
    assert len(report["permissions"]) == 1 and report["permissions"][0]["toolCall"]["title"] == "write_file"
    assert "Permission granted (once)" in texts(permission["updates"])
    assert slow["result"]["stopReason"] == "cancelled"
    assert after["result"]["stopReason"] == "end_turn"
    assert [s["sessionId"] for s in listed["result"]["sessions"]] == [new["result"]["sessionId"]]


async def test_rejected_permission_and_declined_question(acp_client: Path, tmp_path: Path) -> None:
    plan = {
        "command": acp_command("--ephemeral"),
        "permission": "reject",
        "elicitation": "decline",
        "steps": [
            {"op": "initialize"},
            {"op": "new", "cwd": str(tmp_path)},
            {"op": "prompt", "text": "permission"},
            {"op": "prompt", "text": "question"},
        ],
    }
    report = await run_plan(acp_client, plan)
    _, _, permission, question = report["steps"]
    assert permission["result"]["stopReason"] == "end_turn" and "denied" in texts(permission["updates"]).lower()
    assert len(report["elicitations"]) == 1 and question["result"]["stopReason"] == "end_turn"


async def test_question_becomes_an_elicitation(acp_client: Path, tmp_path: Path) -> None:
    plan = {
        "command": acp_command("--ephemeral"),
        "elicitation": "accept",
        "steps": [{"op": "initialize"}, {"op": "new", "cwd": str(tmp_path)}, {"op": "prompt", "text": "question"}],
    }
    report = await run_plan(acp_client, plan)
    asked = report["elicitations"][0]
    assert asked["mode"] == "form" and asked["requestedSchema"]["properties"]["q0"]["enum"] == ["Red", "Green", "Blue"]
    assert texts(report["steps"][2]["updates"]) == "You chose Red."


async def test_session_load_after_a_restart_replays_the_history(acp_client: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    work = tmp_path / "work"
    work.mkdir()
    first = {
        "command": acp_command("--state-dir", str(state), "--embedded"),
        "steps": [
            {"op": "initialize"},
            {"op": "new", "cwd": str(work)},
            {"op": "prompt", "text": "tool alpaca"},
            {"op": "prompt", "text": "reasoning"},
        ],
    }
    report = await run_plan(acp_client, first)
    session_id = report["sessionId"]
    live = [u for s in report["steps"] for u in s["updates"]]
    # a new process, so a new daemon on the same state dir: the session comes back from the journal
    second = {
        "command": acp_command("--state-dir", str(state), "--embedded"),
        "sessionId": session_id,
        "steps": [{"op": "initialize"}, {"op": "load", "cwd": str(work)}, {"op": "prompt", "text": "history"}],
    }
    report = await run_plan(acp_client, second)
    _, load, history = report["steps"]
    assert "error" not in load, load
    replayed = load["updates"]
    assert texts(replayed, "user_message_chunk") == "tool alpacareasoning"
    assert texts(replayed) == texts(live)
    assert texts(replayed, "agent_thought_chunk") == texts(live, "agent_thought_chunk")
    assert [u["toolCallId"] for u in replayed if u["sessionUpdate"] == "tool_call"] == [
        u["toolCallId"] for u in live if u["sessionUpdate"] == "tool_call"
    ]
    # the session goes on after the restart (the mock resumes with its conversation)
    assert history["result"]["stopReason"] == "end_turn"
    assert "tool alpaca" in texts(history["updates"])


@pytest.fixture(scope="module")
def claude_installed() -> None:
    asyncio.run(Installer().install("claude"))


@pytest.mark.real_agent
async def test_claude_with_fake_llm_and_a_permission(acp_client: Path, tmp_path: Path, claude_installed: None) -> None:
    bash = {"tool": "Bash", "input": {"command": "echo hi > out.txt", "description": "write"}}
    async with FakeLLM([{"text": "Hello from " + "claude " * 10}, bash, {"text": "wrote it"}]) as fake:
        env = {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-test"}
        meta = {"sandboxAgent": {"agent": "claude", "env": env, "permissionMode": "default"}}
        plan = {
            "command": acp_command("--ephemeral"),
            "permission": "once",
            "steps": [
                {"op": "initialize"},
                {"op": "new", "cwd": str(tmp_path), "meta": meta},
                {"op": "prompt", "text": "say hello"},
                {"op": "prompt", "text": "write out.txt"},
            ],
        }
        report = await run_plan(acp_client, plan, timeout=180)
    _, new, hello, write = report["steps"]
    assert new["result"]["_meta"]["sandboxAgent"]["agent"] == "claude"
    chunks = [u for u in hello["updates"] if u["sessionUpdate"] == "agent_message_chunk"]
    assert len(chunks) >= 2 and texts(chunks) == "Hello from " + "claude " * 10
    assert report["permissions"][0]["toolCall"]["title"] == "Bash"
    assert report["permissions"][0]["toolCall"]["rawInput"]["command"] == "echo hi > out.txt"
    assert (tmp_path / "out.txt").read_text() == "hi\n"
    assert any(u["sessionUpdate"] == "tool_call" and u["kind"] == "execute" for u in write["updates"])
    assert texts(write["updates"]) == "wrote it" and write["result"]["stopReason"] == "end_turn"


def test_malformed_acp_gets_json_rpc_errors_and_the_server_keeps_serving() -> None:
    lines = [
        b"this is not json",
        b"[1, 2]",
        b'{"jsonrpc": "2.0", "id": 5}',
        b'{"id": 9, "method": "initialize", "params": {}}',
        b'{"jsonrpc": "2.0", "id": 6, "method": "no/such/method", "params": {}}',
        b'{"jsonrpc": "2.0", "id": 7, "method": "session/new", "params": {"cwd": 5}}',
        b'{"jsonrpc": "2.0", "id": 10, "method": "session/prompt", "params": {"sessionId": "nope", "prompt": []}}',
        b'{"jsonrpc": "2.0", "id": 8, "method": "initialize", "params": {"protocolVersion": 1}}',
    ]
    proc = subprocess.run(
        acp_command("--ephemeral"), input=b"\n".join(lines) + b"\n", capture_output=True, timeout=60
    )
    replies = [json.loads(line) for line in proc.stdout.splitlines()]
    by_id = {r["id"]: r for r in replies if r["id"] is not None}
    anonymous = [r for r in replies if r["id"] is None]
    assert [r["error"]["code"] for r in anonymous] == [-32700, -32600]
    assert by_id[5]["error"]["code"] == -32600 and by_id[9]["error"]["code"] == -32600
    assert by_id[6]["error"]["code"] == -32601
    assert by_id[7]["error"]["code"] == -32602
    assert by_id[10]["error"]["code"] == -32602 and "unknown session" in json.dumps(by_id[10]["error"])
    assert by_id[8]["result"]["protocolVersion"] == 1
    assert proc.returncode == 0


async def test_two_acp_clients_share_the_state_dirs_daemon(acp_client: Path, tmp_path: Path) -> None:
    """The default mode attaches to the state dir's shared daemon: a second ACP client loads the first one's
    session while that daemon lives on."""
    state = tmp_path / "state"
    work = tmp_path / "work"
    work.mkdir()
    try:
        first = {
            "command": acp_command("--state-dir", str(state)),
            "steps": [{"op": "initialize"}, {"op": "new", "cwd": str(work)}, {"op": "prompt", "text": "tool shared"}],
        }
        report = await run_plan(acp_client, first)
        session_id = report["sessionId"]
        assert report["steps"][2]["result"]["stopReason"] == "end_turn"
        second = {
            "command": acp_command("--state-dir", str(state)),
            "sessionId": session_id,
            "steps": [{"op": "initialize"}, {"op": "load", "cwd": str(work)}, {"op": "prompt", "text": "history"}],
        }
        report = await run_plan(acp_client, second)
        _, load, history = report["steps"]
        assert texts(load["updates"], "user_message_chunk") == "tool shared"
        assert "tool shared" in texts(history["updates"])  # the same live agent, no resume needed
    finally:
        stop = await asyncio.create_subprocess_exec(*SANDBOX_AGENT, "daemon", "stop", "--state-dir", str(state))
        await asyncio.wait_for(stop.wait(), 30)


@pytest.fixture(scope="module")
def gemini_installed() -> None:
    asyncio.run(Installer().install("gemini"))


@pytest.mark.real_agent
async def test_gemini_behind_acp_both_ways(acp_client: Path, tmp_path: Path, gemini_installed: None) -> None:
    """An ACP client drives Gemini CLI, an ACP agent, through the daemon: ACP in, universal events, ACP out."""
    target = tmp_path / "note.txt"
    write = {"tool": "write_file", "input": {"file_path": str(target), "content": "both ways\n"}}
    async with FakeLLM([write, {"thinking": "Checking.", "text": "Wrote the note."}]) as fake:
        env = {"GOOGLE_GEMINI_BASE_URL": fake.url, "GEMINI_API_KEY": "fake-gemini-key"}
        meta = {"sandboxAgent": {"agent": "gemini", "env": env, "permissionMode": "default"}}
        plan = {
            "command": acp_command("--ephemeral"),
            "permission": "once",
            "steps": [
                {"op": "initialize"},
                {"op": "new", "cwd": str(tmp_path), "meta": meta},
                {"op": "prompt", "text": "write the note"},
            ],
        }
        report = await run_plan(acp_client, plan, timeout=180)
    prompt = report["steps"][2]
    assert prompt["result"]["stopReason"] == "end_turn", prompt
    assert target.read_text() == "both ways\n"
    assert len(report["permissions"]) == 1
    assert texts(prompt["updates"]) == "Wrote the note."
    assert "Checking." in texts(prompt["updates"], "agent_thought_chunk")
    edits = [u for u in prompt["updates"] if u["sessionUpdate"] in ("tool_call", "tool_call_update")]
    assert edits and edits[-1]["status"] == "completed" and "both ways" in json.dumps(edits[-1])


async def test_a_crashed_agent_fails_the_prompt_and_the_next_one_resumes(acp_client: Path, tmp_path: Path) -> None:
    plan = {
        "command": acp_command("--ephemeral"),
        "steps": [
            {"op": "initialize"},
            {"op": "new", "cwd": str(tmp_path)},
            {"op": "prompt", "text": "hello"},
            {"op": "prompt", "text": "crash"},
            {"op": "prompt", "text": "history"},
        ],
    }
    report = await run_plan(acp_client, plan)
    _, _, _, crash, history = report["steps"]
    assert crash["error"]["code"] == -32603 and "exited with code 1" in crash["error"]["data"]["details"]
    assert history["result"]["stopReason"] == "end_turn"
    assert texts(history["updates"]) == "History: hello | crash | history"


async def test_the_agent_is_a_config_option_until_the_first_prompt(acp_client: Path, tmp_path: Path) -> None:
    plan = {
        "command": acp_command("--ephemeral", "--agent", "claude"),
        "steps": [
            {"op": "initialize"},
            {"op": "new", "cwd": str(tmp_path), "meta": {"agent": "no-such-agent"}},
            {"op": "new", "cwd": str(tmp_path)},
            {"op": "config", "configId": "agent", "value": "mock"},
            {"op": "prompt", "text": "hello"},
            {"op": "config", "configId": "agent", "value": "claude"},
            {"op": "list"},
        ],
    }
    report = await run_plan(acp_client, plan)
    _, bad, new, switch, hello, late, listed = report["steps"]
    assert bad["error"]["code"] == -32602 and "mock" in bad["error"]["data"]["known"]
    option = new["result"]["configOptions"][0]
    assert option["id"] == "agent" and option["currentValue"] == "claude"
    assert {o["value"] for o in option["options"]} >= {"mock", "claude", "gemini", "pi"}
    assert switch["result"]["configOptions"][0]["currentValue"] == "mock"
    assert texts(hello["updates"]) == "You said: hello"
    assert late["error"]["code"] == -32602
    assert [s["sessionId"] for s in listed["result"]["sessions"]] == [new["result"]["sessionId"]]
