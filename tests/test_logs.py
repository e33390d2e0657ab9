"""Structured logs: JSON lines that parse, session and turn ids, secrets never written, files rotated by size."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox_agent.ops import logs
from sandbox_agent.schema.methods import SessionCreateParams

from .conftest import ServerProcess

FAKE_KEY = "sk-ant-fake-0123456789abcdefghij"  # shaped like an Anthropic key
ODD_SECRET = "plain-words-no-shape-7731"  # only known as the value of a secret-named variable


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    monkeypatch.setenv("MY_SERVICE_TOKEN", ODD_SECRET)
    out = io.StringIO()
    logs.configure("debug", "json", stream=out)
    yield out
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])
    logs.bind_session(None)
    logs.set_turn_lookup(None)


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_json_object_per_line_with_ids(stream: io.StringIO) -> None:
    log = logging.getLogger("sandbox_agent.test")
    log.info("plain %s", "text")
    logs.bind_session("ses_1")
    log.warning("about the session\nwith a second line")
    logs.set_turn_lookup(lambda sid: "turn_7" if sid == "ses_1" else None)
    log.info("during a turn")
    log.info("explicit", extra={"session_id": "ses_2", "turn_id": "turn_1", "bytes": 12})
    out = lines(stream)
    assert [o["message"] for o in out] == [
        "plain text",
        "about the session\nwith a second line",
        "during a turn",
        "explicit",
    ]
    assert out[0]["level"] == "info" and out[0]["logger"] == "sandbox_agent.test" and "session_id" not in out[0]
    assert out[0]["time"].endswith("+00:00")
    assert out[1]["session_id"] == "ses_1" and "turn_id" not in out[1]
    assert (out[2]["session_id"], out[2]["turn_id"]) == ("ses_1", "turn_7")
    assert (out[3]["session_id"], out[3]["turn_id"], out[3]["bytes"]) == ("ses_2", "turn_1", 12)


def test_secrets_never_reach_the_log(stream: io.StringIO) -> None:
    log = logging.getLogger("sandbox_agent.test")
    env = {"ANTHROPIC_API_KEY": "k-from-a-client-env-42", "HOME": "/root/x"}
    logs.bind_params(SessionCreateParams(agent="mock", session_id="ses_3", env=env), "sessions/create")
    log.info("env value %s and the shaped key %s", ODD_SECRET, FAKE_KEY)
    log.info("header Authorization: Bearer abcdefghijklmnop1234 sent")
    log.info("client key k-from-a-client-env-42 in a message; home /root/x stays")
    try:
        raise ValueError(f"failed with {FAKE_KEY}")
    except ValueError:
        log.exception("boom")
    text = stream.getvalue()
    for secret in (ODD_SECRET, FAKE_KEY, "abcdefghijklmnop1234", "k-from-a-client-env-42"):
        assert secret not in text
    call, *out = lines(stream)
    assert call["logger"] == "sandbox_agent.calls" and call["method"] == "sessions/create"
    assert call["session_id"] == "ses_3" and '"ANTHROPIC_API_KEY":"[REDACTED]"' in call["message"]
    assert out[0]["message"] == "env value [REDACTED] and the shaped key [REDACTED]"
    assert out[1]["message"] == "header Authorization: Bearer [REDACTED] sent"
    assert "/root/x stays" in out[2]["message"]
    assert "ValueError: failed with [REDACTED]" in out[3]["exception"]


def test_text_format_is_scrubbed_too(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.formatter("text"))
    log = logging.getLogger("sandbox_agent.text_test")
    log.addHandler(handler)
    log.propagate = False
    try:
        logs.bind_session("ses_9")
        log.warning("key %s", FAKE_KEY)
    finally:
        log.removeHandler(handler)
        log.propagate = True
        logs.bind_session(None)
    assert out.getvalue() == "WARNING sandbox_agent.text_test: key [REDACTED] [session=ses_9]\n"


def test_the_daemon_log_file_rotates_by_size(tmp_path: Path) -> None:
    path = tmp_path / "state" / "daemon.log"
    handler = logs.rotating_file_handler(path, "json", max_bytes=2000, backups=2)
    log = logging.getLogger("sandbox_agent.rotation_test")
    log.addHandler(handler)
    log.propagate = False
    try:
        for i in range(200):
            log.warning("line %d %s", i, "x" * 40)
    finally:
        log.removeHandler(handler)
        handler.close()
        log.propagate = True
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["daemon.log", "daemon.log.1", "daemon.log.2"]
    for name in files:
        size = (path.parent / name).stat().st_size
        assert 0 < size <= 2000
        for line in (path.parent / name).read_text().splitlines():
            json.loads(line)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert '"line 199 ' in path.read_text(), "the newest lines are in daemon.log"


def test_a_real_daemon_logs_json_lines_without_secrets(
    server_factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", ODD_SECRET)  # in the daemon's own environment
    server: ServerProcess = server_factory(extra=["--log-format", "json", "--log-level", "debug"])
    env = {"ANTHROPIC_API_KEY": FAKE_KEY, "SOME_TOKEN": "client-sent-token-998877"}
    assert "result" in server.rpc("sessions/create", {"agent": "mock", "session_id": "s-log", "env": env})
    message = f"echo {FAKE_KEY} and {ODD_SECRET} and client-sent-token-998877"
    assert "result" in server.rpc("sessions/prompt", {"session_id": "s-log", "message": message, "timeout": 30})
    httpx.get(server.url + "/v1/metrics", headers=server.headers(), timeout=10)
    server.stop()
    assert server.proc is not None and server.proc.stderr is not None
    os.set_blocking(server.proc.stderr.fileno(), True)
    text = "".join(server.stderr_lines) + server.proc.stderr.read().decode()
    for secret in (FAKE_KEY, ODD_SECRET, "client-sent-token-998877"):
        assert secret not in text
    parsed = []
    for line in text.splitlines():
        if "listening on http://" in line and not line.startswith("{"):
            continue  # the start-up banner that launchers wait for
        parsed.append(json.loads(line))
    calls = [o for o in parsed if o["logger"] == "sandbox_agent.calls"]
    create = next(o for o in calls if o["method"] == "sessions/create")
    assert create["session_id"] == "s-log" and "[REDACTED]" in create["message"]
    prompt = next(o for o in calls if o["method"] == "sessions/prompt")
    assert prompt["message"].count("[REDACTED]") == 3 and prompt["session_id"] == "s-log"


def test_the_background_daemon_writes_json_to_its_rotated_log(tmp_path: Path) -> None:
    import subprocess
    import sys

    state = tmp_path / "state"
    env = {**os.environ, "OPENAI_API_KEY": ODD_SECRET}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "sandbox_agent", *args, "--state-dir", str(state)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)

    started = cli("daemon", "start", "--port", "0", "--no-token", "--log-format", "json", "--log-level", "debug",
                  "--log-max-bytes", "4000")
    assert started.returncode == 0, started.stderr
    url = json.loads((state / "daemon.json").read_text())["http"]
    try:
        def rpc(method: str, params: dict) -> dict:
            body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            return httpx.post(url + "/v1/rpc", json=body, timeout=30).json()

        assert "result" in rpc("sessions/create", {"agent": "mock", "session_id": "bg", "env": {"X_API_KEY": FAKE_KEY}})
        for n in range(15):
            assert "result" in rpc("sessions/prompt", {"session_id": "bg", "message": f"{n} {FAKE_KEY} {ODD_SECRET}"})
    finally:
        assert cli("daemon", "stop").returncode == 0
    files = sorted(p.name for p in state.iterdir() if p.name.startswith("daemon.log"))
    assert files[:2] == ["daemon.log", "daemon.log.1"], files  # rotated at 4,000 bytes
    records = []
    for name in files:
        text = (state / name).read_text()
        assert FAKE_KEY not in text and ODD_SECRET not in text
        records += [json.loads(line) for line in text.splitlines()]
    prompts = [r for r in records if r.get("method") == "sessions/prompt"]
    assert prompts and all(r["session_id"] == "bg" and "[REDACTED]" in r["message"] for r in prompts)
