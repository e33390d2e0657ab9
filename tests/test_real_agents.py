"""The four real agents, installed by our installer and driven by our fake providers: one scripted turn each,
with a real tool call that writes a file in the working directory, then a final text.

Installs are cached under $XDG_DATA_HOME/sandbox-agent/agents (outside the clone); a bare machine downloads them.
Each test prints spawn-to-first-output and total time (see `-s`).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from sandbox_agent.agents.launch_env import amp_launch, claude_launch, codex_launch, opencode_launch
from sandbox_agent.install import Installer
from sandbox_agent.testing import FakeLLM

pytestmark = [pytest.mark.anyio, pytest.mark.real_agent]

_installer = Installer()
_lock = asyncio.Lock()


async def installed(agent: str) -> list[str]:
    async with _lock:
        return (await _installer.install(agent)).command


async def run(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 180
) -> tuple[int, str, str, float, float]:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = await asyncio.wait_for(proc.stdout.readline(), timeout)
    first_at = time.monotonic() - started
    rest, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, (first + rest).decode(), err.decode(), first_at, time.monotonic() - started


def report(agent: str, first: float, total: float) -> None:
    print(f"\n{agent}: spawn to first output {first * 1000:.0f} ms, whole turn {total * 1000:.0f} ms")


async def test_claude_code_writes_a_file(tmp_path: Path) -> None:
    command = await installed("claude")
    work = tmp_path / "work"
    work.mkdir()
    target = work / "hello.txt"
    async with FakeLLM(
        [{"tool": "Write", "input": {"file_path": str(target), "content": "hi from claude\n"}}, {"text": "done"}]
    ) as fake:
        launch = claude_launch({"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-test"}, tmp_path / "st")
        rc, out, err, first, total = await run(
            [
                *command,
                "-p",
                "Create hello.txt",
                "--output-format",
                "stream-json",
                "--verbose",
                "--dangerously-skip-permissions",
            ],
            launch.env,
            work,
        )
        assert rc == 0, err
        assert target.read_text() == "hi from claude\n"
        result = json.loads(out.strip().splitlines()[-1])
        assert result["type"] == "result" and result["result"] == "done"
        main = fake.main_requests()
        assert len(main) == 2
        last = main[1]["body"]["messages"][-1]["content"]
        assert any(b.get("type") == "tool_result" and not b.get("is_error") for b in last if isinstance(b, dict))
    report("claude", first, total)


async def test_codex_runs_a_command(tmp_path: Path) -> None:
    command = await installed("codex")
    work = tmp_path / "work"
    work.mkdir()
    async with FakeLLM(
        [{"tool": "exec_command", "input": {"cmd": "printf 'hi from codex\\n' > hello.txt"}}, {"text": "done"}]
    ) as fake:
        launch = codex_launch(
            {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake-test"},
            tmp_path / "st",
            str(work),
            "fake-model",
            "bypass",
        )
        rc, out, err, first, total = await run(
            [*command, "exec", "--json", "--skip-git-repo-check", "Create hello.txt"], launch.env, work
        )
        assert rc == 0, err + out
        assert (work / "hello.txt").read_text() == "hi from codex\n"
        events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert any(
            e.get("type") == "item.completed"
            and e["item"].get("type") == "agent_message"
            and e["item"].get("text") == "done"
            for e in events
        ), out
        main = fake.main_requests()
        assert len(main) == 2 and main[0]["api"] == "responses"
        outputs = [i for i in main[1]["body"]["input"] if i.get("type") == "function_call_output"]
        assert outputs and "exited with code 0" in outputs[0]["output"]
    report("codex", first, total)


async def test_opencode_runs_bash(tmp_path: Path) -> None:
    command = await installed("opencode")
    work = tmp_path / "work"
    work.mkdir()
    async with FakeLLM(
        [
            {
                "tool": "bash",
                "input": {"command": "printf 'hi from opencode\\n' > hello.txt", "description": "write hello"},
            },
            {"text": "done"},
        ]
    ) as fake:
        launch = opencode_launch(
            {"OPENAI_BASE_URL": fake.url + "/v1", "OPENAI_API_KEY": "sk-fake-test"},
            tmp_path / "st",
            "fake-model",
            "bypass",
            "1.18.33",
        )
        rc, out, err, first, total = await run(
            [*command, "run", "--format", "json", "Create hello.txt"], launch.env, work
        )
        assert rc == 0, err + out
        assert (work / "hello.txt").read_text() == "hi from opencode\n"
        main = fake.main_requests()
        assert len(main) == 2 and main[0]["api"] == "chat"
        assert main[1]["body"]["messages"][-1]["role"] == "tool"
        assert "done" in out
    report("opencode", first, total)


async def test_amp_runs_bash(tmp_path: Path) -> None:
    command = await installed("amp")
    work = tmp_path / "work"
    work.mkdir()
    async with FakeLLM(
        [{"tool": "Bash", "input": {"cmd": "printf 'hi from amp\\n' > hello.txt"}}, {"text": "done"}]
    ) as fake:
        launch = amp_launch({"AMP_URL": fake.url, "AMP_API_KEY": "sk-fake-test"}, tmp_path / "st")
        rc, out, err, first, total = await run(
            [*command, "-x", "Create hello.txt", "--stream-json", "--dangerously-allow-all"], launch.env, work
        )
        assert rc == 0, err + out
        assert (work / "hello.txt").read_text() == "hi from amp\n"
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert lines[-1]["type"] == "result" and lines[-1].get("result") == "done", out
        main = fake.main_requests()
        assert len(main) == 2 and main[0]["path"] == "/api/provider/anthropic/v1/messages"
        assert any(r["kind"] == "side" for r in fake.requests), "the title request did not eat a scripted reply"
    report("amp", first, total)


async def test_claude_code_retries_an_overloaded_provider(tmp_path: Path) -> None:
    command = await installed("claude")
    work = tmp_path / "work"
    work.mkdir()
    overloaded = {"status": 529, "type": "overloaded_error", "message": "scripted overload", "retry_after": 0}
    async with FakeLLM([{"error": overloaded}, {"text": "recovered"}]) as fake:
        launch = claude_launch({"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-test"}, tmp_path / "st")
        rc, out, err, _, _ = await run(
            [*command, "-p", "hello", "--output-format", "stream-json", "--verbose"], launch.env, work
        )
        assert rc == 0, err
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert any(x.get("type") == "system" and x.get("subtype") == "api_retry" for x in lines), out
        assert lines[-1]["result"] == "recovered"
        assert len(fake.main_requests()) == 2
