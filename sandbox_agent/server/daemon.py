"""The daemon: agents, the journal and the session manager, started and stopped together."""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path

from ..agents.registry import AgentRegistry, default_registry
from ..sessions.journal import Journal
from ..sessions.manager import SessionManager

log = logging.getLogger(__name__)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "sandbox-agent"


def tune_gc() -> None:
    """Move start-up objects out of the collector's sight and collect young objects less often.

    Measured under load (20 streaming sessions): p99 prompt latency fell from ~116 ms to the figures in the
    benchmark notes; events are short-lived bytes and dicts that reference counting frees anyway.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


class Daemon:
    def __init__(
        self,
        state_dir: Path | None = None,
        ephemeral: bool = False,
        registry: AgentRegistry | None = None,
    ) -> None:
        self.registry = registry or default_registry()
        self.ephemeral = ephemeral
        self.state_dir = state_dir or default_state_dir()
        self.journal: Journal | None = None
        self.manager: SessionManager | None = None

    async def start(self) -> None:
        if not self.ephemeral:
            self.journal = Journal(self.state_dir / "journal.sqlite3")
        agent_state = None if self.ephemeral else self.state_dir / "agents"
        self.manager = SessionManager(self.registry.get, self.journal, agent_state)
        restored = self.manager.restore()
        if restored:
            log.info("restored %d sessions from %s", restored, self.state_dir)
        tune_gc()

    @property
    def sessions(self) -> SessionManager:
        assert self.manager is not None, "daemon not started"
        return self.manager

    def journal_status(self) -> str:
        if self.journal is None:
            return "ephemeral"
        return "ok" if self.journal.error is None else f"degraded: {self.journal.error}"

    async def stop(self) -> None:
        if self.manager is not None:
            await self.manager.shutdown()
        await self.registry.aclose()
