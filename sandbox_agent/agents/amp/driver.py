"""The Amp driver: one process per session, and the delegate broker shared by all of them."""

from __future__ import annotations

from ...install.installer import Installer
from ...rpc.errors import AppError
from ...schema.errors import ErrorKind
from ..base import AgentSession, EventSink, SessionConfig
from ..npm_agent import NpmAgentDriver
from .adapter import CAPABILITIES, CONTROL, AmpSession
from .broker import DelegateBroker


class AmpDriver(NpmAgentDriver):
    capabilities = CAPABILITIES
    modes = ["default", "plan", "accept_edits", "bypass"]
    control = CONTROL

    def __init__(self, installer: Installer) -> None:
        super().__init__("amp", installer)
        self._broker: DelegateBroker | None = None

    @property
    def broker(self) -> DelegateBroker:
        if self._broker is None:
            self._broker = DelegateBroker()
        return self._broker

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        installed = self.installer.installed(self.id)
        if installed is None:
            raise AppError(ErrorKind.AGENT_NOT_INSTALLED, "amp is not installed: run `sandbox-agent install-agent amp`")
        return AmpSession(config, sink, self, installed.command)

    async def aclose(self) -> None:
        if self._broker is not None:
            await self._broker.close()
