"""The E2B and Daytona recipes against their real SDK classes, with the cloud replaced by a local stand-in.

No cloud sandbox can be created here. Every call a recipe makes is bound against the installed SDK's own
signature (drift fails the test), the SDK's own parameter models are used and checked, and the "remote side"
really does what the provider would: the recipe's probe and start commands run in bubblewrap (only /usr and one
folder visible, with this machine's Debian python3 3.11, so the zipapp fits) and the uploaded artifact is written
into that folder. What is not exercised: provider APIs,
authentication, TLS and the providers' proxies; the stand-in serves on 127.0.0.1 instead of 0.0.0.0.
"""

from __future__ import annotations

import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sandbox_agent.deploy.bundle import cached_bundle
from sandbox_agent.deploy.launch import Artifacts

from .bwrap import bwrap_argv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def artifacts() -> Artifacts:
    return Artifacts(zipapp=cached_bundle("zipapp"), build_missing=False)


@pytest.fixture(scope="module")
def both_artifacts(artifacts: Artifacts) -> Artifacts:
    return Artifacts(zipapp=artifacts.zipapp, standalone=cached_bundle("standalone"), build_missing=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRemote:
    """What a cloud sandbox does with uploads and commands, done here in bubblewrap."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        if not shutil.which("bwrap"):
            pytest.skip("bubblewrap is not installed")
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True)
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.commands: list[str] = []

    def upload(self, path: str, data: bytes) -> None:
        assert path.startswith("/tmp/"), path
        (self.tmp / path[len("/tmp/") :]).write_bytes(data)

    def run_foreground(self, command: str) -> str:
        cmd = bwrap_argv(self.tmp, "/tmp", self.env, ["/bin/sh", "-c", command], private_tmp=False)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout

    def run(self, command: str) -> None:
        self.commands.append(command)
        local = command.replace("--host 0.0.0.0", "--host 127.0.0.1")  # servers here stay on loopback
        # the uploads' folder is the sandbox's /tmp, as on the providers
        cmd = bwrap_argv(self.tmp, "/tmp", self.env, ["/bin/sh", "-c", local + "\nwait"], private_tmp=False)
        self.procs.append(subprocess.Popen(cmd, start_new_session=True))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)


def bind(fn: Any, *args: Any, **kwargs: Any) -> inspect.BoundArguments:
    return inspect.signature(fn).bind(*args, **kwargs)


def e2b_stand_in(tmp: Path) -> Any:
    import e2b
    from e2b.sandbox_sync.commands.command import Commands
    from e2b.sandbox_sync.filesystem.filesystem import Filesystem

    class StandIn:
        created: list[StandIn] = []

        @classmethod
        def create(cls, *args: Any, **kwargs: Any) -> StandIn:
            call = bind(e2b.Sandbox.create, *args, **kwargs).arguments
            sandbox = cls()
            sandbox.create_args = call
            sandbox.remote = LocalRemote(tmp / "e2b", call.get("envs") or {})
            outer = sandbox

            class Files:
                def write(self, *a: Any, **kw: Any) -> None:
                    b = bind(Filesystem.write, self, *a, **kw).arguments
                    outer.remote.upload(b["path"], b["data"])

            class Cmds:
                def run(self, *a: Any, **kw: Any) -> Any:
                    b = bind(Commands.run, self, *a, **kw).arguments
                    if not b.get("background"):
                        out = outer.remote.run_foreground(b["cmd"])
                        return e2b.CommandResult(stdout=out, stderr="", exit_code=0, error=None)
                    assert b.get("timeout") == 0, "a server needs timeout=0 on E2B"
                    outer.remote.run(b["cmd"])
                    return None

            sandbox.files, sandbox.commands = Files(), Cmds()
            cls.created.append(sandbox)
            return sandbox

        def get_host(self, *a: Any, **kw: Any) -> str:
            port = bind(e2b.Sandbox.get_host, self, *a, **kw).arguments["port"]
            return f"127.0.0.1:{port}"

        def kill(self, *a: Any, **kw: Any) -> bool:
            bind(e2b.Sandbox.kill, self, *a, **kw)
            self.remote.stop()
            return True

    return StandIn


def daytona_stand_in(tmp: Path) -> Any:
    import daytona
    import daytona._sync.filesystem as fs
    import daytona._sync.process as proc

    class Client:
        sandboxes: list[Any] = []

        def create(self, *a: Any, **kw: Any) -> Any:
            b = bind(daytona.Daytona.create, self, *a, **kw).arguments
            params = b["params"]
            assert isinstance(params, daytona.CreateSandboxFromImageParams) and params.auto_stop_interval == 0
            remote = LocalRemote(tmp / "daytona", params.env_vars or {})

            class FS:
                def upload_file(self, *a: Any, **kw: Any) -> None:
                    u = bind(fs.FileSystem.upload_file, self, *a, **kw).arguments
                    remote.upload(u["dst"], u["src"])

            class Proc:
                sessions: set[str] = set()

                def create_session(self, *a: Any, **kw: Any) -> None:
                    self.sessions.add(bind(proc.Process.create_session, self, *a, **kw).arguments["session_id"])

                def exec(self, *a: Any, **kw: Any) -> Any:
                    e = bind(proc.Process.exec, self, *a, **kw).arguments
                    return SimpleNamespace(exit_code=0, result=remote.run_foreground(e["command"]))

                def execute_session_command(self, *a: Any, **kw: Any) -> Any:
                    e = bind(proc.Process.execute_session_command, self, *a, **kw).arguments
                    assert e["session_id"] in self.sessions and isinstance(e["req"], daytona.SessionExecuteRequest)
                    assert e["req"].run_async, "a server must run async in its session"
                    remote.run(e["req"].command)
                    return SimpleNamespace(cmd_id="cmd-1")

            class SandboxStandIn:
                def get_preview_link(self, *a: Any, **kw: Any) -> Any:
                    port = bind(daytona.Sandbox.get_preview_link, self, *a, **kw).arguments["port"]
                    return SimpleNamespace(url=f"http://127.0.0.1:{port}", token="preview-token")

                def delete(self, *a: Any, **kw: Any) -> None:
                    bind(daytona.Sandbox.delete, self, *a, **kw)
                    remote.stop()

            sandbox = SandboxStandIn()
            sandbox.fs, sandbox.process, sandbox.remote, sandbox.params = FS(), Proc(), remote, params
            self.sandboxes.append(sandbox)
            return sandbox

    return Client()


async def run_mock_session(launched: Any) -> None:
    try:
        s = await launched.client.create_session("mock")
        assert (await s.prompt("tool cloud")).text == "I searched for cloud and found 3 results."
    finally:
        await launched.close()


async def test_e2b_recipe(artifacts: Artifacts, tmp_path: Path) -> None:
    from recipes.e2b import launch

    stand_in = e2b_stand_in(tmp_path)
    env = {"ANTHROPIC_API_KEY": "sk-demo"}
    launched = await launch(env=env, artifacts=artifacts, sandbox_class=stand_in, port=free_port(), scheme="http")
    assert launched.upload is not None and launched.upload.fit.kind == "zipapp"
    sandbox = stand_in.created[0]
    assert sandbox.create_args["envs"] == {"ANTHROPIC_API_KEY": "sk-demo"}
    command = sandbox.remote.commands[0]
    assert "--host 0.0.0.0" in command and "--token" not in command, "the token travels in the env, not argv"
    await run_mock_session(launched)
    assert all(p.poll() is not None for p in sandbox.remote.procs), "kill() stopped the daemon"


async def test_daytona_recipe(both_artifacts: Artifacts, tmp_path: Path) -> None:
    from recipes.daytona import launch

    client = daytona_stand_in(tmp_path)
    env = {"OPENAI_API_KEY": "sk-demo"}
    launched = await launch(env=env, artifacts=both_artifacts, client=client, port=free_port())
    # given both, the probe (glibc 2.36 here) picks the standalone; file APIs drop the mode, the start command chmods
    assert launched.upload is not None and launched.upload.remote == "/tmp/sandbox-agent"
    sandbox = client.sandboxes[0]
    assert sandbox.params.env_vars == {"OPENAI_API_KEY": "sk-demo"} and sandbox.params.public is False
    await run_mock_session(launched)
    assert all(p.poll() is not None for p in sandbox.remote.procs)


def test_recipes_say_how_to_get_a_missing_sdk() -> None:
    from sandbox_agent.deploy.launch import require

    with pytest.raises(SystemExit) as exc:
        require("no_such_provider_sdk", "e2b")
    assert "pip install 'sandbox-agent-py[e2b]'" in str(exc.value)
