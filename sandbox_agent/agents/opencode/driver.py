"""The OpenCode driver: shared `opencode serve` processes, one per model endpoint and permission mode."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from ...install.installer import Installer
from ...rpc.errors import AppError
from ...schema.errors import ErrorKind
from ..base import AgentSession, EventSink, SessionConfig
from ..launch_env import opencode_launch
from ..npm_agent import NpmAgentDriver
from .adapter import CAPABILITIES, OpenCodeSession
from .serve import OpenCodeServer


class OpenCodeDriver(NpmAgentDriver):
    capabilities = CAPABILITIES
    modes = ["build", "plan"]

    def __init__(self, installer: Installer) -> None:
        super().__init__("opencode", installer)
        self.servers: dict[str, OpenCodeServer] = {}
        self._lock = asyncio.Lock()

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        return OpenCodeSession(config, sink, self)

    def _key(self, config: SessionConfig) -> str:
        parts = [
            config.env.get("OPENAI_BASE_URL", ""),
            config.env.get("OPENAI_API_KEY", ""),
            config.model or "",
            config.permission_mode,
        ]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]

    async def server_for(self, config: SessionConfig) -> OpenCodeServer:
        key = self._key(config)
        async with self._lock:
            server = self.servers.get(key)
            if server is not None and server.alive:
                return server
            installed = self.installer.installed(self.id)
            if installed is None:
                raise AppError(
                    ErrorKind.AGENT_NOT_INSTALLED,
                    "opencode is not installed: run `sandbox-agent install-agent opencode`",
                )
            assert config.state_dir is not None
            home = Path(config.state_dir).parent / f".opencode-{key}"
            launch = opencode_launch(config.env, home, config.model, config.permission_mode, installed.version)
            server = OpenCodeServer(installed.command, launch.env, home)
            try:
                await server.start()
            except OSError as exc:
                raise AppError(ErrorKind.AGENT_START_FAILED, f"could not start opencode serve: {exc}") from None
            self.servers[key] = server
            return server

    async def aclose(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.servers.values()), return_exceptions=True)
        self.servers.clear()
