"""Shared agent servers (codex app-server, opencode serve): one per model endpoint, started on first use,
restarted when dead, each with a private home beside the sessions so its threads survive daemon restarts."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from ..install.installer import InstalledAgent, Installer
from ..rpc.errors import AppError
from ..schema.errors import ErrorKind
from ..schema.methods import PermissionMode
from .base import SessionConfig


class SharedServer(Protocol):
    @property
    def alive(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=SharedServer)
Factory = Callable[[InstalledAgent, SessionConfig, Path], S]


class ServerPool(Generic[S]):
    def __init__(
        self, agent: str, installer: Installer, key_parts: Callable[[SessionConfig], list[str]], factory: Factory[S]
    ) -> None:
        self.agent = agent
        self.installer = installer
        self._key_parts = key_parts
        self._factory = factory
        self.servers: dict[str, S] = {}
        self._lock = asyncio.Lock()

    def key(self, config: SessionConfig) -> str:
        return hashlib.sha256("\0".join(self._key_parts(config)).encode()).hexdigest()[:16]

    async def server_for(self, config: SessionConfig) -> S:
        key = self.key(config)
        async with self._lock:
            server = self.servers.get(key)
            if server is not None and server.alive:
                return server
            installed = self.installer.installed(self.agent)
            if installed is None:
                raise AppError(
                    ErrorKind.AGENT_NOT_INSTALLED,
                    f"{self.agent} is not installed: run `sandbox-agent install-agent {self.agent}`",
                )
            assert config.state_dir is not None
            server = self._factory(installed, config, Path(config.state_dir).parent / f".{self.agent}-{key}")
            try:
                await server.start()
            except AppError:
                await server.stop()
                raise
            except OSError as exc:
                raise AppError(
                    ErrorKind.AGENT_START_FAILED, f"could not start the {self.agent} server: {exc}"
                ) from None
            self.servers[key] = server
            return server

    async def aclose(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.servers.values()), return_exceptions=True)
        self.servers.clear()


def pinned_launch(config: SessionConfig) -> tuple[str | None, PermissionMode]:
    """The model and permission mode a session's shared server was first chosen by, kept in its state dir.

    sessions/configure changes a session's model or mode per turn; its server (and the home holding its threads)
    must stay the same across restarts, so the pool key uses these first values, not the current ones.
    """
    if config.state_dir is None:
        return config.model, config.permission_mode
    path = Path(config.state_dir) / "launch.json"
    if config.fork is not None and not path.exists():  # a native fork lives on its source's server
        source = Path(config.state_dir).parent / config.fork.source_session_id / "launch.json"
        if source.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(source.read_bytes())
    try:
        saved = json.loads(path.read_text())
        return saved.get("model"), saved.get("permission_mode") or "default"
    except (OSError, ValueError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"model": config.model, "permission_mode": config.permission_mode}))
        return config.model, config.permission_mode
