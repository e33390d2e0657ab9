"""The artifacts outside containers: each inside bubblewrap with only /usr (the zipapp on Debian's own python3,
the standalone needing no Python), the `sandbox-agent bundle` command, and the install script on this machine.
The Docker recipe against Podman is in test_artifacts.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox_agent.deploy.bundle import cached_bundle

from .bwrap import bwrap_argv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def zipapp() -> Path:
    return cached_bundle("zipapp")


@pytest.fixture(scope="module")
def standalone() -> Path:
    return cached_bundle("standalone")


def test_artifact_sizes_and_cli(zipapp: Path, standalone: Path, tmp_path: Path) -> None:
    assert 5e6 < zipapp.stat().st_size < 60e6 and 5e6 < standalone.stat().st_size < 60e6
    env = {"PATH": "/usr/bin:/bin", "PEX_ROOT": str(tmp_path / "pex")}
    for argv in (["/usr/bin/python3", str(zipapp), "--version"], [str(standalone), "--version"]):
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 0 and out.stdout.startswith("sandbox-agent "), out.stderr[-1000:]


@pytest.fixture(params=["zipapp", "standalone"])
def bwrap_daemon(request: pytest.FixtureRequest, zipapp: Path, standalone: Path, tmp_path: Path) -> Iterator[str]:
    if not shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed")
    work = tmp_path / "work"
    work.mkdir()
    port = 24800 + (int(time.time() * 1000) % 500)
    flags = ["server", "--port", str(port), "--no-token", "--state-dir", "/work/state"]
    if request.param == "zipapp":
        shutil.copy(zipapp, work / "sa.pex")
        argv = ["/usr/bin/python3", "/work/sa.pex", *flags]
    else:
        shutil.copy(standalone, work / "sa")
        argv = ["/work/sa", *flags]
    cmd = bwrap_argv(work, "/work", {"PEX_ROOT": "/tmp/pex"}, argv)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_artifact_runs_in_bubblewrap_with_only_usr(bwrap_daemon: str) -> None:
    from sandbox_agent.client import SandboxAgent
    from sandbox_agent.deploy.launch import wait_healthy

    cold = await wait_healthy(bwrap_daemon, timeout=90)
    print(f"\nartifact in bwrap: healthy after {cold * 1000:.0f} ms")
    async with await SandboxAgent.connect(bwrap_daemon) as client:
        s = await client.create_session("mock")
        assert (await s.prompt("hello from bwrap")).text == "You said: hello from bwrap"


def install(args: list[str], tmp_path: Path, path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ROOT / "scripts" / "install-sandbox-agent"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": path, "HOME": str(tmp_path)},
    )


def test_install_script_picks_what_fits_and_puts_it_on_path(zipapp: Path, standalone: Path, tmp_path: Path) -> None:
    both = tmp_path / "dist"
    both.mkdir()
    shutil.copy(zipapp, both)
    shutil.copy(standalone, both)
    # glibc 2.36 here: the standalone is taken when given; with only the zipapp, this machine's python3 3.11 runs it
    done = install(["--prefix", str(tmp_path / "a"), str(both)], tmp_path)
    assert done.returncode == 0 and "installed the standalone (x86_64, python3 3.11, glibc 2." in done.stdout
    done = install(["--prefix", str(tmp_path / "z"), str(zipapp)], tmp_path)
    assert done.returncode == 0 and "installed the zipapp (x86_64, python3 3.11, glibc 2." in done.stdout, done.stderr
    assert (tmp_path / "z" / "bin" / "sandbox-agent").read_text().startswith("#!/bin/sh")
    # without python3 on PATH
    nopy = tmp_path / "nopy"
    nopy.mkdir()
    for tool in ("sh", "uname", "ldd", "head", "tail", "sed", "awk", "getconf", "mkdir", "cp", "chmod", "mv", "cat"):
        (nopy / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    (nopy / "bash").symlink_to("/usr/bin/bash")  # ldd is a bash script
    done = install(["--prefix", str(tmp_path / "b"), str(both)], tmp_path, path=str(nopy))
    assert done.returncode == 0 and "installed the standalone (x86_64, no python3, glibc 2." in done.stdout, done.stderr
    out = subprocess.run([str(tmp_path / "b" / "bin" / "sandbox-agent"), "--version"], capture_output=True, text=True)
    assert out.stdout.startswith("sandbox-agent ")
    # with only the zipapp and no python3, it says why nothing fits
    done = install(["--prefix", str(tmp_path / "c"), str(zipapp)], tmp_path, path=str(nopy))
    assert done.returncode == 1 and "nothing fits this machine (x86_64, no python3, glibc 2." in done.stderr
    assert "no standalone executable was given; the zipapp needs python3 3.11/3.12/3.13" in done.stderr
    assert not (tmp_path / "c" / "bin" / "sandbox-agent").exists()

