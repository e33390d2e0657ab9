"""The Codex driver: shared app-servers, one per distinct model endpoint (keys live in the process env)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from ...install.installer import Installer
from ...rpc.errors import AppError
from ...schema.errors import ErrorKind
from ..base import AgentSession, EventSink, SessionConfig
from ..launch_env import codex_launch
from ..npm_agent import NpmAgentDriver
from .adapter import CAPABILITIES, CodexSession
from .app_server import AppServer

ENDPOINT_KEYS = ("OPENAI_BASE_URL", "OPENAI_API_KEY")


class CodexDriver(NpmAgentDriver):
    capabilities = CAPABILITIES
    modes = ["default", "plan", "accept_edits", "bypass"]

    def __init__(self, installer: Installer) -> None:
        super().__init__("codex", installer)
        self.servers: dict[str, AppServer] = {}
        self._lock = asyncio.Lock()

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        return CodexSession(config, sink, self)

    def _key(self, config: SessionConfig) -> str:
        material = "\0".join(config.env.get(k, "") for k in ENDPOINT_KEYS) + "\0" + (config.model or "")
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    async def server_for(self, config: SessionConfig) -> AppServer:
        """The shared app-server for this session's endpoint, started (or restarted) on first use."""
        key = self._key(config)
        async with self._lock:
            server = self.servers.get(key)
            if server is not None and server.alive:
                return server
            installed = self.installer.installed(self.id)
            if installed is None:
                raise AppError(
                    ErrorKind.AGENT_NOT_INSTALLED, "codex is not installed: run `sandbox-agent install-agent codex`"
                )
            assert config.state_dir is not None
            # one CODEX_HOME per endpoint, beside the sessions, so threads survive daemon restarts
            home = Path(config.state_dir).parent / f".codex-{key}"
            launch = codex_launch(config.env, home, str(home), config.model, config.permission_mode)
            server = AppServer(installed.command, launch.env, home)
            try:
                await server.start()
            except AppError:
                await server.stop()
                raise
            except OSError as exc:
                raise AppError(ErrorKind.AGENT_START_FAILED, f"could not start codex app-server: {exc}") from None
            self.servers[key] = server
            return server

    async def aclose(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.servers.values()), return_exceptions=True)
        self.servers.clear()
