"""The daemon: agents, the journal and the session manager, started and stopped together.

A non-ephemeral daemon owns its state dir: it takes the exclusive lock before it opens the journal, listens on
the dir's unix socket and writes the pid file; a second daemon on the same dir is refused before it reads a
byte of the journal.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..agents.registry import AgentRegistry, default_registry
from ..fs import FsRoots
from ..ops.logs import set_turn_lookup
from ..sessions.journal import Journal
from ..sessions.manager import SessionManager
from ..statedir import PID_FILE, StateDirLock, socket_path, write_pid_file
from ..statedir import default_state_dir as _default_state_dir

if TYPE_CHECKING:
    from ..processes import ProcessLimits, ProcessManager
    from ..terminals import TerminalManager

log = logging.getLogger(__name__)


def default_state_dir() -> Path:
    return _default_state_dir()


def tune_gc() -> None:
    """Move start-up objects out of the collector's sight and collect young objects less often.

    Measured under load (20 streaming sessions): p99 prompt latency fell from ~116 ms to the figures in the
    benchmark notes; events are short-lived bytes and dicts that reference counting frees anyway.
    No `gc.collect()` first: it took 40-60 ms of every start to free ~800 objects (~0.2 MB) of start-up cycles,
    which now stay frozen.
    """
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    gc.enable()  # the CLI turns collection off while the daemon imports and starts


class Daemon:
    def __init__(
        self,
        state_dir: Path | None = None,
        ephemeral: bool = False,
        registry: AgentRegistry | None = None,
        hitl_timeout_s: float | None = None,
        listen_socket: bool = True,
        fs_roots: list[str] | None = None,
        process_limits: ProcessLimits | None = None,
        store_url: str | None = None,
    ) -> None:
        self.store_url = store_url  # PostgreSQL: the journal's rows are shipped there by a thread (store/)
        self.shipper: Any = None
        self.registry = registry or default_registry()
        # Files, processes, terminals: roots default to the working dir plus each session's cwd.
        self.fs_roots = FsRoots(fs_roots) if fs_roots else FsRoots([os.getcwd()], self._session_cwds)
        # processes/ and terminals/ (and their models) are imported when first used: ~10 ms and ~0.5 MB at start
        self._process_limits = process_limits
        self._processes: ProcessManager | None = None
        self._terminals: TerminalManager | None = None
        self.ephemeral = ephemeral
        self.state_dir = state_dir or default_state_dir()
        self.hitl_timeout_s = hitl_timeout_s
        self.listen_socket = listen_socket and not ephemeral
        self.journal: Journal | None = None
        self.manager: SessionManager | None = None
        self.started_at = time.time()
        self.address: dict[str, Any] = {}
        self.clients = 0
        self.idle_since = time.monotonic()
        self._lock: StateDirLock | None = None
        self._socket: asyncio.Server | None = None
        self._stopped = False

    async def start(self) -> None:
        if self.manager is not None:
            return
        if not self.ephemeral:
            self._lock = StateDirLock(self.state_dir)
            self._lock.acquire()  # raises StateDirOwned before the journal is touched
            self.journal = Journal(self.state_dir / "journal.sqlite3")
            if self.store_url:
                from ..store.ship_process import ShipperProcess  # its own process: no GIL shared with the loop

                self.shipper = ShipperProcess(self.store_url, self.state_dir / "journal.sqlite3")
                self.shipper.start()
        elif self.store_url:
            log.warning("--store is ignored by an ephemeral daemon: it keeps no journal to ship")
        agent_state = None if self.ephemeral else self.state_dir / "agents"
        self.manager = SessionManager(self.registry.get, self.journal, agent_state, self.hitl_timeout_s)
        if self.shipper is not None:  # sessions only the store has: listed, imported on a miss, resumable here
            from ..store.restore import StoreSessions

            shipper = self.shipper
            self.manager.remote = StoreSessions(self.store_url, self.state_dir, lambda: shipper.state != "down")
        set_turn_lookup(self._running_turn)  # logs about a session also name its running turn
        restored = self.manager.restore()
        self.manager.start_parking()
        if restored:
            log.info("restored %d sessions from %s", restored, self.state_dir)
        if self.listen_socket:
            from .unix import serve_unix

            self._socket = await serve_unix(self, socket_path(self.state_dir))
            self.address["socket"] = str(socket_path(self.state_dir))
        self.write_pid_file()
        tune_gc()

    def write_pid_file(self) -> None:
        if self.ephemeral or self._lock is None:
            return
        write_pid_file(
            self.state_dir,
            {"pid": os.getpid(), "version": __version__, "started_at": self.started_at, **self.address},
        )

    def _running_turn(self, session_id: str) -> str | None:
        session = self.manager.sessions.get(session_id) if self.manager is not None else None
        return session.current_turn if session is not None else None

    @property
    def processes(self) -> ProcessManager:
        if self._processes is None:
            from ..processes import ProcessManager

            self._processes = ProcessManager(self._process_limits)
        return self._processes

    @property
    def terminals(self) -> TerminalManager:
        if self._terminals is None:
            from ..terminals import TerminalManager

            self._terminals = TerminalManager()
        return self._terminals

    @property
    def sessions(self) -> SessionManager:
        assert self.manager is not None, "daemon not started"
        return self.manager

    def _session_cwds(self) -> list[str]:
        if self.manager is None:
            return []
        return [s.record.cwd for s in self.manager.sessions.values()] + [p.cwd for p in self.manager.parked.values()]

    def journal_status(self) -> str:
        if self.journal is None:
            return "ephemeral"
        return "ok" if self.journal.error is None else f"degraded: {self.journal.error}"

    def store_status(self) -> dict[str, Any] | None:
        return None if self.shipper is None else self.shipper.status()

    # clients and idleness (for daemons that exit when nobody needs them)

    def client_attached(self) -> None:
        self.clients += 1

    def client_detached(self) -> None:
        self.clients -= 1
        if self.clients <= 0:
            self.clients = 0
            self.idle_since = time.monotonic()

    def busy(self) -> bool:
        """Someone is connected, or an agent is working or waiting for an answer."""
        if self.clients > 0:
            return True
        if self._processes is not None and self._processes.running:
            return True
        if self._terminals is not None and any(t.running for t in self._terminals.terminals.values()):
            return True
        return self.manager is not None and any(
            s.current_turn is not None or bool(s.hitl) for s in self.manager.sessions.values()
        )

    def idle_for(self) -> float:
        if self.busy():
            self.idle_since = time.monotonic()
            return 0.0
        return time.monotonic() - self.idle_since

    async def stop(self) -> None:
        if self.manager is None or self._stopped:
            return
        self._stopped = True
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self.manager is not None:
            await self.manager.shutdown()
        if self.shipper is not None:
            await asyncio.to_thread(self.shipper.stop)  # ships what the journal holds for a few seconds more
            if self.manager.remote is not None:
                await asyncio.to_thread(self.manager.remote.close)
        if self._processes is not None:
            await self._processes.shutdown()
        if self._terminals is not None:
            await self._terminals.shutdown()
        await self.registry.aclose()
        if self._lock is not None:
            for name in (PID_FILE, socket_path(self.state_dir).name):
                try:
                    (self.state_dir / name).unlink()
                except FileNotFoundError:
                    pass
            self._lock.release()
            self._lock = None
