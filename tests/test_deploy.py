"""The portable artifact and the Docker recipe, for real: the artifact inside bubblewrap with only /usr, and the
recipe against a Docker Engine API (Podman's service, with a Debian image built locally)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox_agent.deploy.bundle import build_bundle

from .bwrap import bwrap_argv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("bundle") / "sandbox-agent.pyz")


@pytest.fixture(scope="module")
def engine() -> str:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "podman-engine")], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        pytest.skip(f"no Docker-compatible engine here: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


def test_artifact_size_and_cli(artifact: Path) -> None:
    assert 1e6 < artifact.stat().st_size < 40e6
    out = subprocess.run(["/usr/bin/python3", str(artifact), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("sandbox-agent ")


@pytest.fixture
def bwrap_daemon(artifact: Path, tmp_path: Path) -> Iterator[str]:
    if not shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(artifact, work / "sa.pyz")
    port = 24800 + (int(time.time() * 1000) % 500)
    server = [
        "/usr/bin/python3",
        "/work/sa.pyz",
        "server",
        "--port",
        str(port),
        "--no-token",
        "--state-dir",
        "/work/state",
    ]
    cmd = bwrap_argv(work, "/work", {"SHIV_ROOT": "/tmp/s"}, server)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_artifact_runs_in_bubblewrap_with_only_usr(bwrap_daemon: str) -> None:
    from sandbox_agent.client import SandboxAgent
    from sandbox_agent.deploy.launch import wait_healthy

    cold = await wait_healthy(bwrap_daemon, timeout=60)
    print(f"\nartifact in bwrap: healthy after {cold * 1000:.0f} ms")
    async with await SandboxAgent.connect(bwrap_daemon) as client:
        s = await client.create_session("mock")
        assert (await s.prompt("hello from bwrap")).text == "You said: hello from bwrap"


async def test_docker_recipe_against_podman(engine: str, artifact: Path) -> None:
    from recipes.docker import launch

    started = time.monotonic()
    launched = await launch(
        image="localhost/sandbox-agent-debian:bookworm",
        env={"DEMO_KEY": "sk-demo"},
        artifact=artifact,
        docker_url=engine,
    )
    try:
        print(f"\ndocker recipe: connected after {(time.monotonic() - started) * 1000:.0f} ms")
        assert launched.token and launched.url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as http:  # the token is really required from outside
            assert (
                await http.post(launched.url + "/v1/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "sessions/list"})
            ).status_code == 401
        s = await launched.client.create_session("mock")
        r = await s.prompt("tool docker", timeout=60)
        assert r.text == "I searched for docker and found 3 results."
        code, out = launched.sandbox.exec_run(["/bin/sh", "-c", "echo $DEMO_KEY; ls /tmp/sandbox-agent.pyz"])
        assert code == 0 and b"sk-demo" in out, "keys reach the sandbox's environment"
        container = launched.sandbox
    finally:
        await launched.close()
    await asyncio.sleep(0.2)
    import docker

    names = [c.id for c in docker.DockerClient(base_url=engine).containers.list(all=True)]
    assert container.id not in names, "the recipe's handle removes the container"


def test_install_script_puts_it_on_path(artifact: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    done = subprocess.run(
        ["sh", str(ROOT / "scripts" / "install-sandbox-agent"), str(artifact), str(prefix)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = subprocess.run(
        [str(prefix / "bin" / "sandbox-agent"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)},
    )
    assert out.stdout.startswith("sandbox-agent ")
