"""The Codex driver: shared app-servers, one per distinct model endpoint (keys live in the process env)."""

from __future__ import annotations

from pathlib import Path

from ...install.installer import InstalledAgent, Installer
from ..base import AgentSession, EventSink, SessionConfig
from ..launch_env import codex_launch
from ..npm_agent import NpmAgentDriver
from ..shared_servers import ServerPool
from .adapter import CAPABILITIES, CodexSession
from .app_server import AppServer


def _app_server(installed: InstalledAgent, config: SessionConfig, home: Path) -> AppServer:
    launch = codex_launch(config.env, home, str(home), config.model, config.permission_mode)
    return AppServer(installed.command, launch.env, home)


def _key(c: SessionConfig) -> list[str]:
    return [c.env.get("OPENAI_BASE_URL", ""), c.env.get("OPENAI_API_KEY", ""), c.model or ""]


class CodexDriver(NpmAgentDriver):
    capabilities = CAPABILITIES
    modes = ["default", "plan", "accept_edits", "bypass"]

    def __init__(self, installer: Installer) -> None:
        super().__init__("codex", installer)
        self.pool: ServerPool[AppServer] = ServerPool("codex", installer, _key, _app_server)

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        return CodexSession(config, sink, self)

    async def server_for(self, config: SessionConfig) -> AppServer:
        """The shared app-server for this session's endpoint, started (or restarted) on first use."""
        return await self.pool.server_for(config)

    async def aclose(self) -> None:
        await self.pool.aclose()
