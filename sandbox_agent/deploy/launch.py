"""The steps every sandbox recipe shares: the start command, waiting for health, connecting the client."""

from __future__ import annotations

import asyncio
import secrets
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..client import SandboxAgent
from .bundle import KINDS, Kind, cached_bundle
from .fit import Fit, Prefer, choose, parse_probe

REMOTE_PATHS: dict[Kind, str] = {"zipapp": "/tmp/sandbox-agent.pex", "standalone": "/tmp/sandbox-agent"}
REMOTE_LOG = "/tmp/sandbox-agent.log"
PORT = 2468


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class Artifacts:
    """Built artifacts to choose from; a kind left out is built (once, cached) when a sandbox needs it."""

    zipapp: Path | None = None
    standalone: Path | None = None
    build_missing: bool = True

    def available(self) -> tuple[Kind, ...]:
        return KINDS if self.build_missing else tuple(k for k in KINDS if getattr(self, k) is not None)

    def path(self, kind: Kind) -> Path:
        return getattr(self, kind) or cached_bundle(kind)


@dataclass
class Upload:
    """What goes into the sandbox: the artifact that fits it, where it goes, and why it was chosen."""

    fit: Fit
    local: Path
    remote: str = field(init=False)

    def __post_init__(self) -> None:
        self.remote = REMOTE_PATHS[self.fit.kind]


def pick(probe_output: str, artifacts: Artifacts | None = None, prefer: Prefer = "auto") -> Upload:
    """The artifact for a sandbox from its answer to `fit.PROBE_COMMAND`; raises NoArtifactFits saying why not."""
    artifacts = artifacts or Artifacts()
    fit = choose(parse_probe(probe_output), prefer, artifacts.available())
    return Upload(fit, artifacts.path(fit.kind))


def start_command(
    token: str,
    kind: Kind = "zipapp",
    port: int = PORT,
    log: str = REMOTE_LOG,
    host: str = "0.0.0.0",
    store: str | None = None,
) -> str:
    """A shell command that starts the daemon in the background, open to the sandbox's network, with a token.

    The token travels in the environment of the command, never on the command line (visible in `ps`)."""
    path = shlex.quote(REMOTE_PATHS[kind])
    env = f"SANDBOX_AGENT_TOKEN={shlex.quote(token)}"
    if store:  # the fleet's PostgreSQL store (--store); like the token, kept off the command line
        env += f" SANDBOX_AGENT_STORE={shlex.quote(store)}"
    if kind == "zipapp":
        run = f"{env} PEX_ROOT=/tmp/.pex nohup python3 {path}"
    else:  # uploads through file APIs may drop the executable bit
        run = f"chmod 755 {path} && {env} nohup {path}"
    return f"{run} server --host {host} --port {port} > {shlex.quote(log)} 2>&1 &"


async def wait_healthy(url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> float:
    """Poll `/v1/health` until it answers 200; returns the seconds it took."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=2.0, headers=headers) as http:
        while True:
            try:
                if (await http.get(url.rstrip("/") + "/v1/health")).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"sandbox-agent at {url} did not become healthy within {timeout:.0f} s")
            await asyncio.sleep(0.2)


@dataclass
class Launched:
    """A daemon running in a sandbox: where it is, its token, a connected client, and how to stop it."""

    url: str
    token: str
    client: SandboxAgent
    sandbox: Any
    stop_sandbox: Any
    upload: Upload | None = None

    async def close(self) -> None:
        await self.client.close()
        result = self.stop_sandbox()
        if asyncio.iscoroutine(result):
            await result


async def connect(
    url: str,
    token: str,
    sandbox: Any,
    stop: Any,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
    upload: Upload | None = None,
) -> Launched:
    """Wait for health, then connect; `headers` are what the provider's proxy needs (e.g. a preview token)."""
    await wait_healthy(url, timeout, headers)
    client = await SandboxAgent.connect(url, token, headers=headers)
    return Launched(url=url, token=token, client=client, sandbox=sandbox, stop_sandbox=stop, upload=upload)


def require(module: str, extra: str) -> Any:
    """Import a provider SDK, or say exactly how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise SystemExit(f"this recipe needs the {module!r} SDK: pip install 'sandbox-agent-py[{extra}]'") from None


async def demo(launched: Launched, agent: str, prompt: str, keep: bool) -> None:
    """What every recipe's command line does once the daemon is up: one session, then stop (or keep) it."""
    if launched.upload is not None:
        print(f"uploaded the {launched.upload.fit.reason}")
    try:
        session = await launched.client.create_session(agent)
        result = await session.prompt(prompt, timeout=300)
        print(f"{agent}: {result.text!r} ({result.stop_reason})")
        if keep:
            print(f"daemon: {launched.url}  token: {launched.token}  (Ctrl-C stops the sandbox)")
            await asyncio.Event().wait()
    finally:
        await launched.close()
