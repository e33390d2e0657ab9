"""The OpenCode driver: shared `opencode serve` processes, one per model endpoint and permission mode."""

from __future__ import annotations

from pathlib import Path

from ...install.installer import InstalledAgent, Installer
from ..base import AgentSession, EventSink, SessionConfig
from ..launch_env import opencode_launch
from ..npm_agent import NpmAgentDriver
from ..shared_servers import ServerPool
from .adapter import CAPABILITIES, OpenCodeSession
from .serve import OpenCodeServer


def _serve(installed: InstalledAgent, config: SessionConfig, home: Path) -> OpenCodeServer:
    launch = opencode_launch(config.env, home, config.model, config.permission_mode, installed.version)
    return OpenCodeServer(installed.command, launch.env, home)


def _key(c: SessionConfig) -> list[str]:
    return [c.env.get("OPENAI_BASE_URL", ""), c.env.get("OPENAI_API_KEY", ""), c.model or "", c.permission_mode]


class OpenCodeDriver(NpmAgentDriver):
    capabilities = CAPABILITIES
    modes = ["build", "plan"]

    def __init__(self, installer: Installer) -> None:
        super().__init__("opencode", installer)
        self.pool: ServerPool[OpenCodeServer] = ServerPool("opencode", installer, _key, _serve)

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        return OpenCodeSession(config, sink, self)

    async def server_for(self, config: SessionConfig) -> OpenCodeServer:
        return await self.pool.server_for(config)

    async def aclose(self) -> None:
        await self.pool.aclose()
