"""A real agent installed from npm: install state, on-demand installation, and its adapter once there is one."""

from __future__ import annotations

from ..install.catalog import CATALOG
from ..install.installer import Installer
from ..rpc.errors import AppError
from ..schema.agents import AgentCapabilities, AgentInfo
from ..schema.errors import ErrorKind
from .base import AgentDriver, AgentSession, EventSink, ProgressCallback, SessionConfig


class NpmAgentDriver(AgentDriver):
    """Drives installation for one npm-published agent; sessions need that agent's adapter."""

    capabilities = AgentCapabilities()  # nothing until the agent's adapter lands: reported honestly

    def __init__(self, agent: str, installer: Installer) -> None:
        spec = CATALOG[agent]
        self.id = agent  # type: ignore[misc]
        self.name = spec.name  # type: ignore[misc]
        self.spec = spec
        self.installer = installer

    def info(self) -> AgentInfo:
        done = self.installer.installed(self.id)
        return AgentInfo(
            id=self.id,
            name=self.name,
            installed=done is not None,
            version=done.version if done else self.spec.version,
            path=done.command[-1] if done else None,
            capabilities=self.capabilities,
            modes=self.agent_modes or None,
            control=self.control,
        )

    async def install(self, version: str | None, reinstall: bool, progress: ProgressCallback) -> AgentInfo:
        done = await self.installer.install(self.id, version, reinstall, progress)
        info = self.info()
        return info.model_copy(update={"installed": True, "version": done.version, "path": done.command[-1]})

    async def prepare(self, progress: ProgressCallback) -> None:
        if self.installer.installed(self.id) is None:
            await self.installer.install(self.id, None, False, progress)

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        raise AppError(
            ErrorKind.NOT_SUPPORTED,
            f"{self.name} is installed, but this daemon has no {self.name} session adapter yet",
            agent=self.id,
        )
