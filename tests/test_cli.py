"""The CLI: every API method from the shell, one clear line on errors, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sandbox_agent import __version__


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox_agent", *args], capture_output=True, text=True, timeout=timeout
    )


def test_version() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"sandbox-agent {__version__}"


def test_agents_local_json() -> None:
    out = run("agents", "--json")
    agents = json.loads(out.stdout)
    assert agents[0]["id"] == "mock" and agents[0]["installed"] is True


def test_api_against_a_server(server) -> None:  # type: ignore[no-untyped-def]
    common = ["--endpoint", server.url, "--token", server.token]
    created = run("api", "sessions/create", "agent=mock", "session_id=cli1", *common)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["session_id"] == "cli1"
    prompt = run("api", "sessions/prompt", '{"session_id": "cli1"}', "message=tool find it", *common)
    assert json.loads(prompt.stdout)["text"] == "I searched for find it and found 3 results."
    listed = run("agents", *common, "--json")
    assert json.loads(listed.stdout)[0]["id"] == "mock"


def test_api_errors_are_one_line(server) -> None:  # type: ignore[no-untyped-def]
    common = ["--endpoint", server.url, "--token", server.token]
    cases = [
        (["api", "sessions/get", "session_id=nope", *common], "[session_not_found]"),
        (["api", "sessions/create", "agent=1", *common], "Invalid params"),
        (["api", "sessions/create", "{bad json", *common], "not valid JSON"),
        (["api", "sessions/list", "--endpoint", server.url, "--token", "wrong"], "[unauthorized]"),
        (["api", "sessions/list", "--endpoint", "http://127.0.0.1:9"], "cannot reach"),
        (["api", "no/such", *common], "Method not found"),
    ]
    for args, needle in cases:
        out = run(*args)
        assert out.returncode == 1, args
        assert needle in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_mcp_without_the_sdk_says_how_to_get_it() -> None:
    code = "import sys; sys.modules['mcp'] = None; from sandbox_agent.cli import main; sys.exit(main(['mcp']))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "pip install 'sandbox-agent-py[mcp]'" in out.stderr and "Traceback" not in out.stderr


def test_stdio_facades_report_an_unusable_state_dir_and_exit(tmp_path: Path) -> None:
    # The facades answer their client before the daemon is attached; a failed attach must still end the process
    # with one clear line, not leave an MCP/ACP server whose every call hangs.
    blocker = tmp_path / "file"
    blocker.write_text("")
    for facade in ("mcp", "acp"):
        out = subprocess.run(
            [sys.executable, "-m", "sandbox_agent", facade, "--state-dir", str(blocker / "state")],
            input="",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 1, (facade, out.stderr)
        assert "cannot use the state dir" in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_each_command_alone_parses_as_with_all_of_them() -> None:
    """main() builds only the command it runs (argparse setup for all of them is ~11 ms of every start)."""
    import argparse

    from sandbox_agent.cli import COMMANDS, build_parser

    def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return dict(sub.choices)

    everything = commands(build_parser())
    assert set(everything) == set(COMMANDS), "COMMANDS lists every command build_parser() registers"
    for name in COMMANDS:
        alone = commands(build_parser(name))
        assert list(alone) == [name]
        assert alone[name].format_help() == everything[name].format_help()
    argv = ["server", "--no-token", "--port", "0", "--state-dir", "/tmp/x"]
    assert vars(build_parser("server").parse_args(argv)) == vars(build_parser().parse_args(argv))
    help_all = subprocess.run([sys.executable, "-m", "sandbox_agent", "--help"], capture_output=True, text=True)
    assert help_all.returncode == 0 and all(name in help_all.stdout for name in COMMANDS)
    typo = subprocess.run([sys.executable, "-m", "sandbox_agent", "srever"], capture_output=True, text=True)
    assert typo.returncode == 2 and "invalid choice" in typo.stderr and "server" in typo.stderr
