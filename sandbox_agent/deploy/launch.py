"""The steps every sandbox recipe shares: the start command, waiting for health, connecting the client."""

from __future__ import annotations

import asyncio
import secrets
import shlex
import time
from dataclasses import dataclass
from typing import Any

import httpx

from ..client import SandboxAgent

REMOTE_ARTIFACT = "/tmp/sandbox-agent.pyz"
REMOTE_LOG = "/tmp/sandbox-agent.log"
PORT = 2468


def new_token() -> str:
    return secrets.token_urlsafe(32)


def start_command(
    token: str, port: int = PORT, artifact: str = REMOTE_ARTIFACT, log: str = REMOTE_LOG, host: str = "0.0.0.0"
) -> str:
    """A shell command that starts the daemon in the background, open to the sandbox's network, with a token.

    The token travels in the environment of the command, never on the command line (visible in `ps`)."""
    return (
        f"SANDBOX_AGENT_TOKEN={shlex.quote(token)} SHIV_ROOT=/tmp/.shiv "
        f"nohup python3 {shlex.quote(artifact)} server --host {host} --port {port} "
        f"> {shlex.quote(log)} 2>&1 &"
    )


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

    async def close(self) -> None:
        await self.client.close()
        result = self.stop_sandbox()
        if asyncio.iscoroutine(result):
            await result


async def connect(
    url: str, token: str, sandbox: Any, stop: Any, headers: dict[str, str] | None = None, timeout: float = 60.0
) -> Launched:
    """Wait for health, then connect; `headers` are what the provider's proxy needs (e.g. a preview token)."""
    await wait_healthy(url, timeout, headers)
    client = await SandboxAgent.connect(url, token, headers=headers)
    return Launched(url=url, token=token, client=client, sandbox=sandbox, stop_sandbox=stop)


def require(module: str, extra: str) -> Any:
    """Import a provider SDK, or say exactly how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise SystemExit(f"this recipe needs the {module!r} SDK: pip install 'sandbox-agent[{extra}]'") from None


async def demo(launched: Launched, agent: str, prompt: str, keep: bool) -> None:
    """What every recipe's command line does once the daemon is up: one session, then stop (or keep) it."""
    try:
        session = await launched.client.create_session(agent)
        result = await session.prompt(prompt, timeout=300)
        print(f"{agent}: {result.text!r} ({result.stop_reason})")
        if keep:
            print(f"daemon: {launched.url}  token: {launched.token}  (Ctrl-C stops the sandbox)")
            await asyncio.Event().wait()
    finally:
        await launched.close()
