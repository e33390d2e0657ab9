"""The OpenCode driver: shared `opencode serve` processes, one per model endpoint and permission mode."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ...install.installer import InstalledAgent, Installer
from ..base import AgentSession, EventSink, ForkPoint, SessionConfig
from ..launch_env import opencode_launch
from ..npm_agent import NpmAgentDriver
from ..shared_servers import ServerPool, pinned_launch
from .adapter import CAPABILITIES, CONTROL, OpenCodeSession
from .serve import OpenCodeServer

log = logging.getLogger(__name__)

IMPORT_TIMEOUT = 120.0  # `opencode import` takes ~2 s (1.18.33); a fresh home's first start migrates its database


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
        self._imports = asyncio.Lock()  # one `opencode import` at a time: they may write the same database

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        return OpenCodeSession(config, sink, self)

    def can_fork(self, point: ForkPoint) -> bool:
        return True  # POST /session/{id}/fork {messageID}: everything before that message

    async def server_for(self, config: SessionConfig) -> OpenCodeServer:
        return await self.pool.server_for(config)

    async def load_snapshot(self, config: SessionConfig) -> bool:
        """Load a session restored from the store (its `opencode export` JSON, put back in the session's folder) into
        the home of the server this session will use, with `opencode import`, so it resumes natively."""
        native = config.resume_native_id
        installed = self.installer.installed(self.id)
        if not native or config.state_dir is None or installed is None:
            return False
        export = Path(config.state_dir) / "opencode-export" / f"{native}.json"
        if not export.is_file():
            return False
        home = Path(config.state_dir).parent / f".opencode-{self.pool.key(config)}"  # as ServerPool names it
        model, permission_mode = pinned_launch(config)
        launch = opencode_launch(config.env, home, model, permission_mode, installed.version)
        cwd = config.cwd if Path(config.cwd).is_dir() else str(home)  # import files the session under cwd's project
        async with self._imports:
            proc = await asyncio.create_subprocess_exec(
                *installed.command, "import", str(export), cwd=cwd, env=launch.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(proc.communicate(), IMPORT_TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                return False
        if proc.returncode != 0 or native.encode() not in out:
            tail = err.decode(errors="replace")[-500:]
            log.warning("opencode import of %s failed (exit %s): %s", native, proc.returncode, tail)
            return False
        return True

    async def aclose(self) -> None:
        await self.pool.aclose()
