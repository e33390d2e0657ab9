"""`credentials extract-env`: keys from the environment first, then each agent's own auth files (fake keys)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FIXTURE_HOME = Path(__file__).parent / "fixtures" / "credentials" / "home"


def extract(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(FIXTURE_HOME)}
    return subprocess.run(
        [sys.executable, "-m", "sandbox_agent", "credentials", "extract-env", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_reads_every_agents_files() -> None:
    out = extract({})
    assert out.returncode == 0
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines())
    assert lines == {
        "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-FAKE-claude-oauth",
        "ANTHROPIC_API_KEY": "sk-ant-api03-FAKE-claude-key",
        "OPENAI_API_KEY": "sk-proj-FAKE-codex-key",
        "OPENROUTER_API_KEY": "sk-or-FAKE-opencode",
        "AMP_API_KEY": "sgamp_FAKE_amp_key",
    }
    # sources go to stderr, values never do
    assert ".codex/auth.json" in out.stderr and "FAKE" not in out.stderr


def test_environment_wins_and_export_quotes() -> None:
    out = extract({"OPENAI_API_KEY": "sk-env key with space", "AMP_URL": "https://amp.example"}, "--export")
    lines = out.stdout.splitlines()
    assert "export OPENAI_API_KEY='sk-env key with space'" in lines
    assert "export AMP_URL=https://amp.example" in lines
    assert sum(line.startswith("export OPENAI_API_KEY=") for line in lines) == 1
    sourced = subprocess.run(["bash", "-c", out.stdout + 'printf %s "$OPENAI_API_KEY"'], capture_output=True, text=True)
    assert sourced.stdout == "sk-env key with space"


def test_nothing_found(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sandbox_agent", "credentials", "extract-env"],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and out.stdout == "" and "no API keys found" in out.stderr
