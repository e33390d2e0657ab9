"""The OpenCode driver: shared `opencode serve` processes, one per model endpoint and permission mode."""

from __future__ import annotations

from pathlib import Path

from ...install.installer import InstalledAgent, Installer
from ..base import AgentSession, EventSink, ForkPoint, SessionConfig
from ..launch_env import opencode_launch
from ..npm_agent import NpmAgentDriver
from ..shared_servers import ServerPool, pinned_launch
from .adapter import CAPABILITIES, CONTROL, OpenCodeSession
from .serve import OpenCodeServer


def _serve(installed: InstalledAgent, config: SessionConfig, home: Path) -> OpenCodeServer:
    model, permission_mode = pinned_launch(config)
    launch = opencode_launch(config.env, home, model, permission_mode, installed.version)
    return OpenCodeServer(installed.command, launch.env, home)


def _key(c: SessionConfig) -> list[str]:
    model, permission_mode = pinned_launch(c)
    env = c.env
    return [
        env.get("OPENAI_BASE_URL", ""),
        env.get("OPENAI_API_KEY", ""),
        model or "",
        permission_mode,
        env.get("SANDBOX_AGENT_MODELS", ""),
    ]


class OpenCodeDriver(NpmAgentDriver):
    capabilities = CAPABILITIES
    modes = ["build", "plan"]
    agent_modes = ["build", "plan"]
    control = CONTROL

    def __init__(self, installer: Installer) -> None:
        super().__init__("opencode", installer)
        self.pool: ServerPool[OpenCodeServer] = ServerPool("opencode", installer, _key, _serve)

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        return OpenCodeSession(config, sink, self)

    def can_fork(self, point: ForkPoint) -> bool:
        return True  # POST /session/{id}/fork {messageID}: everything before that message

    async def server_for(self, config: SessionConfig) -> OpenCodeServer:
        return await self.pool.server_for(config)

    async def aclose(self) -> None:
        await self.pool.aclose()
