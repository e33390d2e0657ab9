"""The Claude Code driver: installed from npm on demand, one process per session."""

from __future__ import annotations

from ...install.installer import Installer
from ...rpc.errors import AppError
from ...schema.errors import ErrorKind
from ..base import AgentSession, EventSink, ForkPoint, SessionConfig
from ..npm_agent import NpmAgentDriver
from .adapter import CAPABILITIES, CONTROL, ClaudeSession


class ClaudeDriver(NpmAgentDriver):
    capabilities = CAPABILITIES
    modes = ["default", "plan", "accept_edits", "bypass"]
    control = CONTROL

    def __init__(self, installer: Installer) -> None:
        super().__init__("claude", installer)

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        installed = self.installer.installed(self.id)
        if installed is None:
            raise AppError(
                ErrorKind.AGENT_NOT_INSTALLED, "claude is not installed: run `sandbox-agent install-agent claude`"
            )
        return ClaudeSession(config, sink, installed.command)

    def can_fork(self, point: ForkPoint) -> bool:
        # --fork-session copies the whole conversation; an earlier boundary is replayed instead
        return point.whole
