"""Shared fixtures: real daemons as subprocesses (server and stdio), on loopback, with throwaway state."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from sandbox_agent.client import SandboxAgent

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"

# Shared daemons that tests start by attaching (stdio, mcp, SandboxAgent.start()) exit soon after their last
# client instead of lingering for the default five minutes.
os.environ.setdefault("SANDBOX_AGENT_IDLE_EXIT", "5")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class ServerProcess:
    """A real `sandbox-agent server` child process."""

    state_dir: Path
    token: str | None
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerProcess:
        args = [
            sys.executable,
            "-m",
            "sandbox_agent",
            "server",
            "--port",
            "0",
            "--state-dir",
            str(self.state_dir),
        ]
        args += ["--token", self.token] if self.token else ["--no-token"]
        args += self.extra
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=ROOT)
        deadline = time.monotonic() + timeout
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline().decode()
            if not line:
                raise RuntimeError("server exited before listening:\n" + "".join(self.stderr_lines))
            self.stderr_lines.append(line)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                os.set_blocking(self.proc.stderr.fileno(), False)
                return self
        raise RuntimeError("server did not start in time")

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"} if self.token else {}

    def rpc(self, method: str, params: dict | None = None, req_id: int = 1) -> dict:
        body = {"jsonrpc": "2.0", "id": req_id, "method": method, "params": params or {}}
        return httpx.post(self.url + "/v1/rpc", json=body, headers=self.headers(), timeout=30).json()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 3 MB filesystem (tmpfs), to run out of space on purpose."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[type]:
    started: list[ServerProcess] = []

    def make(token: str | None = "test-token", state_dir: Path | None = None, extra: list[str] | None = None):
        srv = ServerProcess(state_dir or tmp_path / "state", token, extra or [])
        started.append(srv)
        return srv.start()

    yield make  # type: ignore[misc]
    for srv in started:
        srv.stop()


@pytest.fixture
def server(server_factory) -> ServerProcess:  # type: ignore[no-untyped-def]
    return server_factory()


@pytest.fixture
async def stdio_client(tmp_path: Path) -> AsyncIterator[SandboxAgent]:
    client = await SandboxAgent.start(state_dir=str(tmp_path / "state"))
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def ws_client(server: ServerProcess) -> AsyncIterator[SandboxAgent]:
    client = await SandboxAgent.connect(server.url, server.token)
    try:
        yield client
    finally:
        await client.close()
