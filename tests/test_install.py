"""Installing agents from npm: concurrency, atomicity and every failure mode a user can hit.

Uses the smallest agent package (amp's pinned JS build, ~10 MB) from the real npm registry.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox_agent.client import RpcError, SandboxAgent
from sandbox_agent.install import Installer

pytestmark = pytest.mark.anyio


def leftovers(root: Path) -> list[str]:
    return (
        [p.name for p in (root / "amp").iterdir() if ".partial-" in p.name or ".old-" in p.name]
        if (root / "amp").exists()
        else []
    )


async def test_ten_concurrent_requests_cause_one_install(tmp_path: Path) -> None:
    installer = Installer(tmp_path / "agents")
    phases: list[str] = []
    results = await asyncio.gather(
        *(installer.install("amp", progress=lambda p, d, t: phases.append(p)) for _ in range(10))
    )
    assert installer.npm_runs == 1
    assert len({tuple(r.command) for r in results}) == 1
    assert results[0].reported_version and results[0].reported_version.startswith("0.0.1767830505")
    assert "downloading" in phases and "verifying" in phases and phases[-1] == "installed"
    assert not leftovers(tmp_path / "agents")
    again = await installer.install("amp")
    assert installer.npm_runs == 1 and again.command == results[0].command
    await installer.install("amp", reinstall=True)
    assert installer.npm_runs == 2 and installer.installed("amp") is not None


def test_two_processes_share_one_install(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    cmd = [sys.executable, "-m", "sandbox_agent", "install-agent", "amp"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    root = tmp_path / "sandbox-agent" / "agents"
    assert Installer(root).installed("amp") is not None
    assert not leftovers(root)


@pytest.mark.parametrize(
    ("setup", "kind"),
    [
        ("no_node", "node_not_found"),
        ("registry_down", "registry_unreachable"),
        ("bad_version", "unknown_version"),
    ],
)
async def test_failures_are_distinct_and_leave_nothing(
    setup: str, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = None
    if setup == "no_node":
        monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    elif setup == "registry_down":
        monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")
        monkeypatch.setenv("npm_config_prefer_online", "true")
    else:
        version = "9.9.9-does-not-exist"
    installer = Installer(tmp_path / "agents")
    with pytest.raises(RpcError) as exc:
        await installer.install("amp", version)
    assert exc.value.kind == kind, exc.value.message
    assert exc.value.message
    assert installer.installed("amp", version) is None
    assert not leftovers(tmp_path / "agents")


async def test_disk_full_is_its_own_error(small_disk: Path) -> None:
    installer = Installer(small_disk / "agents")
    with pytest.raises(RpcError) as exc:
        await installer.install("amp")
    assert exc.value.kind == "disk_full", exc.value.message
    assert installer.installed("amp") is None
    assert not leftovers(small_disk / "agents")


async def test_install_over_json_rpc_with_progress_and_on_demand(tmp_path: Path) -> None:
    async with await SandboxAgent.start(ephemeral=True, env={"XDG_DATA_HOME": str(tmp_path)}) as client:
        before = {a.id: a for a in await client.list_agents()}
        assert set(before) == {"mock", "claude", "codex", "opencode", "amp", "gemini", "pi"}
        assert before["amp"].installed is False
        progress: list[dict] = []
        result = await client.install_agent("amp", on_progress=progress.append)
        assert result.path and result.path.endswith("main.js")
        assert progress and progress[-1]["phase"] == "installed" and progress[-1]["agent"] == "amp"
        after = {a.id: a for a in await client.list_agents()}
        assert after["amp"].installed is True and after["amp"].path == result.path
        with pytest.raises(RpcError) as exc:
            await client.call("agents/install", {"agent": "amp", "version": "9.9.9-nope"})
        assert exc.value.kind == "unknown_version"
        with pytest.raises(RpcError) as exc:
            await client.call("agents/install", {"agent": "nobody"})
        assert exc.value.kind == "agent_not_found"


async def test_sessions_create_installs_a_missing_agent(tmp_path: Path) -> None:
    async with await SandboxAgent.start(ephemeral=True, env={"XDG_DATA_HOME": str(tmp_path)}) as client:
        assert {a.id: a for a in await client.list_agents()}["amp"].installed is False
        sessions = await asyncio.gather(*(client.create_session("amp", cwd=str(tmp_path)) for _ in range(3)))
        assert all(s.info is not None and s.info.status == "idle" for s in sessions)
        agents = {a.id: a for a in await client.list_agents()}
        assert agents["amp"].installed is True
        for s in sessions:
            await s.terminate()
    root = tmp_path / "sandbox-agent" / "agents" / "amp"
    assert len([p for p in root.iterdir() if not p.name.startswith(".")]) == 1, "one install for three sessions"
    assert not list(root.glob(".*partial*"))
