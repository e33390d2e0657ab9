"""The Codex driver: shared app-servers, one per distinct model endpoint (keys live in the process env)."""

from __future__ import annotations

from pathlib import Path

from ...install.installer import InstalledAgent, Installer
from ..base import AgentSession, EventSink, ForkPoint, SessionConfig
from ..launch_env import codex_launch
from ..npm_agent import NpmAgentDriver
from ..shared_servers import ServerPool, pinned_launch
from .adapter import CAPABILITIES, CONTROL, CodexSession
from .app_server import AppServer


def _app_server(installed: InstalledAgent, config: SessionConfig, home: Path) -> AppServer:
    model, permission_mode = pinned_launch(config)
    launch = codex_launch(config.env, home, str(home), model, permission_mode)
    return AppServer(installed.command, launch.env, home)


def _key(c: SessionConfig) -> list[str]:
    model, _ = pinned_launch(c)
    return [c.env.get("OPENAI_BASE_URL", ""), c.env.get("OPENAI_API_KEY", ""), model or ""]


class CodexDriver(NpmAgentDriver):
    capabilities = CAPABILITIES
    modes = ["default", "plan", "accept_edits", "bypass"]
    control = CONTROL

    def __init__(self, installer: Installer) -> None:
        super().__init__("codex", installer)
        self.pool: ServerPool[AppServer] = ServerPool("codex", installer, _key, _app_server)

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        return CodexSession(config, sink, self)

    def can_fork(self, point: ForkPoint) -> bool:
        return True  # thread/fork, through the turn the fork point closes (lastTurnId)

    async def server_for(self, config: SessionConfig) -> AppServer:
        """The shared app-server for this session's endpoint, started (or restarted) on first use."""
        return await self.pool.server_for(config)

    async def aclose(self) -> None:
        await self.pool.aclose()
