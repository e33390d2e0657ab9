"""The Amp driver: one process per session, and the delegate broker shared by all of them."""

from __future__ import annotations

import json
from pathlib import Path

from ...install.installer import Installer
from ...rpc.errors import AppError
from ...schema.errors import ErrorKind
from ..base import AgentSession, EventSink, SessionConfig
from ..npm_agent import NpmAgentDriver
from .adapter import CAPABILITIES, CONTROL, AmpSession
from .broker import DelegateBroker

THREADS = "home/.local/share/amp/threads"  # where the pinned (local-loop) build keeps its threads, under HOME


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

    async def load_snapshot(self, config: SessionConfig) -> bool:
        """A thread restored from the store resumes natively only when Amp can read it: its whole file, with its id
        (`threads continue` of a missing or broken file fails; the session is then primed by a replay)."""
        native = config.resume_native_id
        if not native or config.state_dir is None:
            return False
        path = Path(config.state_dir) / "amp" / THREADS / f"{native}.json"  # HOME is <session>/amp/home
        try:
            thread = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return False
        return isinstance(thread, dict) and thread.get("id") == native and isinstance(thread.get("messages"), list)

    async def aclose(self) -> None:
        if self._broker is not None:
            await self._broker.close()
