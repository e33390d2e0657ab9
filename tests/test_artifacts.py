"""The two artifacts where they are meant to run.

- The fit rules on the probe answers real images give (and on ones that must be refused, with the reason).
- The zipapp's compiled wheels import under every CPython it claims (3.11, 3.12, 3.13 where this machine has them).
- The Docker recipe against Podman's Docker API with Debian images built here from Debian's mirror (debootstrap):
  Debian 12 (python3.11) and Debian 13 (python3.13) get the zipapp, a Debian 13 without Python gets the
  standalone executable; in each the daemon becomes healthy, a mock turn and a real claude turn (against the fake
  Anthropic server, served inside the container's own network namespace) complete, and the install script puts
  the fitting artifact on PATH. The claude binary is the one the project's installer put on this machine from
  npm, lent read-only to the container where the daemon's installer looks for it (the images have no npm).
"""

from __future__ import annotations

import asyncio
import ctypes
import glob
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from sandbox_agent.deploy.bundle import cached_bundle
from sandbox_agent.deploy.fit import NoArtifactFits, choose, parse_probe
from sandbox_agent.deploy.frozen_main import python_style
from sandbox_agent.deploy.launch import Artifacts
from sandbox_agent.install import Installer
from sandbox_agent.testing import FakeLLM
from sandbox_agent.testing.server import build_app

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
pytestmark = pytest.mark.anyio

# What PROBE_COMMAND printed in the images below (and in others, typed from their documented outputs).
DEBIAN12 = "arch: x86_64\npython3: Python 3.11.2\nldd: ldd (Debian GLIBC 2.36-9+deb12u13) 2.36 Copyright (C) 2022\n"
DEBIAN13 = "arch: x86_64\npython3: Python 3.13.5\nldd: ldd (Debian GLIBC 2.41-12) 2.41 Copyright (C) 2024\n"
NO_PYTHON = "arch: x86_64\npython3: sh: 1: python3: not found\nldd: ldd (Debian GLIBC 2.41-12) 2.41 Copyright\n"
UBUNTU2004 = "arch: x86_64\npython3: Python 3.8.10\nldd: ldd (Ubuntu GLIBC 2.31-0ubuntu9.16) 2.31 Copyright\n"
ALPINE = "arch: x86_64\npython3: Python 3.12.8\nldd: musl libc (x86_64) Version 1.2.5 \ngetconf: \n"
ARM = "arch: aarch64\npython3: Python 3.12.3\nldd: ldd (Ubuntu GLIBC 2.39-0ubuntu8) 2.39\n"
RHEL9 = "arch: x86_64\npython3: Python 3.11.9\nldd: ldd (GNU libc) 2.34 Copyright (C) 2021\n"
NO_LDD = "arch: x86_64\npython3: Python 3.12.3\nldd: sh: ldd: not found \ngetconf: glibc 2.39\n"


def test_fit_rules() -> None:
    # auto: the standalone where glibc >= 2.35 (it starts faster), else the zipapp on python3 3.11-3.13
    assert choose(parse_probe(DEBIAN12)).kind == "standalone"
    assert choose(parse_probe(NO_PYTHON)).kind == "standalone"
    assert choose(parse_probe(NO_LDD)).kind == "standalone" and parse_probe(NO_LDD).glibc == (2, 39)
    assert choose(parse_probe(RHEL9)).kind == "zipapp"
    assert choose(parse_probe(DEBIAN12), "zipapp").kind == "zipapp"
    assert choose(parse_probe(DEBIAN13), "zipapp").reason == "zipapp for x86_64, python3 3.13, glibc 2.41"
    assert choose(parse_probe(DEBIAN13), available=("zipapp",)).kind == "zipapp"
    with pytest.raises(NoArtifactFits, match=r"glibc >= 2.35; the sandbox has glibc 2.31; the zipapp needs python3"):
        choose(parse_probe(UBUNTU2004))
    with pytest.raises(NoArtifactFits, match="musl"):
        choose(parse_probe(ALPINE))
    with pytest.raises(NoArtifactFits, match="built for x86_64; this sandbox is aarch64"):
        choose(parse_probe(ARM))
    with pytest.raises(NoArtifactFits, match="no python3"):
        choose(parse_probe(NO_PYTHON), "zipapp")
    with pytest.raises(NoArtifactFits, match="no standalone artifact was given"):
        choose(parse_probe(NO_PYTHON), available=("zipapp",))


def test_standalone_runs_python_style_children_itself() -> None:
    script = "/m/mock_agent.py"
    assert python_style(["sa", "-I", script, "--x"]) == ("path", script, [script, "--x"])
    assert python_style(["sa", "-m", "pkg", "stdio"]) == ("module", "pkg", ["pkg", "stdio"])
    assert python_style(["sa", "server", "--port", "1"]) is None
    assert python_style(["sa", "-I"]) is None


@pytest.fixture(scope="module")
def artifacts() -> Artifacts:
    return Artifacts(cached_bundle("zipapp"), cached_bundle("standalone"), build_missing=False)


def interpreters() -> list[str]:
    """CPython 3.11-3.13 on this machine (PATH, or pyenv's versions)."""
    found = []
    for v in ("3.11", "3.12", "3.13"):
        candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{v}.*/bin/python{v}")))
        on_path = shutil.which(f"python{v}")
        if on_path and "shims" not in on_path:  # pyenv's shims are bash scripts that need its environment
            candidates.append(on_path)
        if candidates:
            found.append(candidates[0])
    return found


@pytest.mark.parametrize("python", interpreters())
def test_zipapp_imports_its_compiled_wheels_under(python: str, artifacts: Artifacts, tmp_path: Path) -> None:
    assert artifacts.zipapp is not None
    env = {"PATH": str(Path(python).parent), "PEX_ROOT": str(tmp_path), "PEX_INTERPRETER": "1"}
    code = "import sys, pydantic_core, orjson, uvloop, httptools, sandbox_agent.server.app; print(sys.version_info[:2])"
    done = subprocess.run([python, str(artifacts.zipapp), "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(tuple(int(x) for x in Path(python).name[6:].split(".")))


# ---- the Docker recipe against Podman, one image per kind of sandbox --------------------------------------


@dataclass
class Engine:
    url: str
    images: dict[str, str]


IMAGES = {"debian12": "zipapp", "debian13": "zipapp", "debian13-nopython": "standalone"}
# On the Python images the zipapp is asked for (auto would take the faster standalone there: glibc >= 2.35);
# on the image without Python, auto must find the standalone itself.
ASK = {"debian12": "zipapp", "debian13": "zipapp", "debian13-nopython": "auto"}


@pytest.fixture(scope="module")
def engine() -> Engine:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "podman-engine"), *IMAGES], capture_output=True, text=True, timeout=1500
    )
    if done.returncode != 0:
        if "are needed" in done.stderr:
            pytest.skip(f"no Docker-compatible engine here: {done.stderr.strip()[-300:]}")
        pytest.fail(f"scripts/podman-engine failed: {done.stderr.strip()[-2000:]}")
    url, *rest = done.stdout.split("\n")
    return Engine(url.strip(), dict(line.split() for line in rest if line.strip()))


@pytest.fixture(scope="module")
def claude_agents() -> str:
    """The folder the project's installer put claude into (installing it from npm if needed)."""
    installer = Installer()
    asyncio.run(installer.install("claude"))
    return str(installer.root / "claude")


def _setns_socket(pid: int) -> socket.socket:
    """A socket bound to 127.0.0.1 inside process `pid`'s network namespace (setns in a throwaway thread)."""
    out: dict[str, object] = {}

    def work() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        with open(f"/proc/{pid}/ns/net") as ns:
            if libc.setns(ns.fileno(), 0x40000000) != 0:  # CLONE_NEWNET
                out["error"] = OSError(ctypes.get_errno(), f"setns into {pid}'s network namespace")
                return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        out["sock"] = sock

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["sock"]  # type: ignore[return-value]


class FakeLLMInside(FakeLLM):
    """The fake provider, served from this test process but listening on the container's own loopback."""

    def __init__(self, pid: int, replies: list[dict[str, object]]) -> None:
        super().__init__(replies)  # type: ignore[arg-type]
        self.pid = pid

    async def start(self) -> FakeLLMInside:
        sock = _setns_socket(self.pid)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(build_app(self.queue), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.ensure_future(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self


def _tar(files: dict[str, Path | str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, src in files.items():
            data = Path(src).read_bytes() if isinstance(src, Path) else src.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _sh(container: object, script: str) -> tuple[int, str]:
    code, out = container.exec_run(["/bin/sh", "-c", script])  # type: ignore[attr-defined]
    return code, out.decode("utf-8", "replace")


@pytest.mark.slow
@pytest.mark.real_agent
@pytest.mark.parametrize("image", IMAGES)
async def test_docker_recipe_uploads_what_fits_and_runs_turns(
    image: str, engine: Engine, artifacts: Artifacts, claude_agents: str
) -> None:
    from recipes.docker import launch

    started = time.monotonic()
    launched = await launch(
        image=engine.images[image],
        env={"DEMO_KEY": "sk-demo"},
        artifacts=artifacts,
        docker_url=engine.url,
        volumes={claude_agents: {"bind": "/root/.local/share/sandbox-agent/agents/claude", "mode": "ro"}},
        kind=ASK[image],
    )
    container = launched.sandbox
    try:
        assert launched.upload is not None and launched.upload.fit.kind == IMAGES[image], launched.upload
        print(f"\n{image}: {launched.upload.fit.reason}; healthy and connected {time.monotonic() - started:.1f} s")
        import httpx

        async with httpx.AsyncClient() as http:  # the token is really required from outside
            r = await http.post(launched.url + "/v1/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "sessions/list"})
            assert r.status_code == 401

        s = await launched.client.create_session("mock")
        assert (await s.prompt("tool docker", timeout=60)).text == "I searched for docker and found 3 results."
        assert _sh(container, "echo $DEMO_KEY")[1].strip() == "sk-demo", "keys reach the sandbox's environment"

        container.reload()
        _sh(container, "mkdir -p /tmp/work")
        write = {"file_path": "/tmp/work/hello.txt", "content": "hi\n"}
        replies = [{"tool": "Write", "input": write}, {"text": "done"}]
        async with FakeLLMInside(container.attrs["State"]["Pid"], replies) as fake:
            env = {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-test"}
            s = await launched.client.create_session("claude", cwd="/tmp/work", permission_mode="bypass", env=env)
            t = time.monotonic()
            r = await s.prompt("create hello.txt", timeout=180)
            assert r.text == "done" and r.stop_reason == "end_turn"
            print(f"{image}: claude turn {time.monotonic() - t:.1f} s")
            assert len(fake.main_requests()) == 2
        assert _sh(container, "cat /tmp/work/hello.txt") == (0, "hi\n"), "claude wrote the file inside the container"

        # the install script puts the same kind on PATH: given both where auto chose, only the zipapp where asked
        given = [artifacts.zipapp] if ASK[image] == "zipapp" else [artifacts.zipapp, artifacts.standalone]
        uploads: dict[str, Path | str] = {"sa/install-sandbox-agent": ROOT / "scripts" / "install-sandbox-agent"}
        uploads |= {f"sa/{p.name}": p for p in given if p}
        container.put_archive("/tmp", _tar(uploads))
        code, out = _sh(container, "sh /tmp/sa/install-sandbox-agent /tmp/sa && sandbox-agent --version")
        assert code == 0 and f"installed the {IMAGES[image]}" in out and "sandbox-agent " in out, out
    finally:
        await launched.close()
    await asyncio.sleep(0.2)
    import docker

    names = [c.id for c in docker.DockerClient(base_url=engine.url).containers.list(all=True)]
    assert container.id not in names, "the recipe's handle removes the container"


@pytest.mark.slow
async def test_docker_recipe_says_why_nothing_fits(engine: Engine, artifacts: Artifacts) -> None:
    import docker

    from recipes.docker import launch

    before = {c.id for c in docker.DockerClient(base_url=engine.url).containers.list(all=True)}
    with pytest.raises(NoArtifactFits, match=r"\(x86_64, no python3, glibc 2.41\): the zipapp needs python3"):
        image = engine.images["debian13-nopython"]
        await launch(image=image, artifacts=artifacts, docker_url=engine.url, kind="zipapp")
    after = {c.id for c in docker.DockerClient(base_url=engine.url).containers.list(all=True)}
    assert after <= before, "the container is removed when nothing fits"
