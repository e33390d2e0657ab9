"""All sessions of a daemon: create, look up, resume, restore from the journal, shut down."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import tempfile
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ..agents.base import AgentDriver, ForkPoint, SessionConfig
from ..rpc.errors import AppError
from ..schema.errors import ErrorKind
from ..schema.events import SessionEndedData
from ..schema.methods import SessionCreateParams
from .clock import new_id, now_rfc3339
from .control import control_of
from .event_log import EventLog
from .journal import Journal
from .parking import PARK_AFTER_S, ParkedSession, parked_from_record
from .record import SessionRecord
from .session import Session

log = logging.getLogger(__name__)

DriverLookup = Callable[[str], AgentDriver]


def _existing_dir(path: str) -> str | None:
    """The absolute path if it is a directory (one stat call; fine on the loop)."""
    full = os.path.abspath(path)
    return full if os.path.isdir(full) else None


class SessionManager:
    def __init__(
        self,
        drivers: DriverLookup,
        journal: Journal | None,
        agent_state: Path | None = None,
        hitl_timeout_s: float | None = None,
    ) -> None:
        self._driver = drivers
        self.hitl_timeout_s = hitl_timeout_s  # the daemon's default; a session's own setting wins
        self.journal = journal
        self.agent_state = agent_state or Path(tempfile.mkdtemp(prefix="sandbox-agent-"))
        self._env: dict[str, dict[str, str]] = {}  # session env, in memory only (it holds keys)
        self.sessions: dict[str, Session] = {}  # loaded: live, and ended ones still in use
        self.parked: dict[str, ParkedSession] = {}  # ended and unused: loaded back from the journal on use
        # parked sessions some call still holds: loading one gives back that same object, never a second copy
        self._unloaded: weakref.WeakValueDictionary[str, Session] = weakref.WeakValueDictionary()
        self._sweeper: asyncio.Task[None] | None = None
        self._creating: set[str] = set()
        self.on_change: list[Callable[[str], None]] = []
        # sessions this journal lacks but a PostgreSQL store has (store/restore.py StoreSessions), or None
        self.remote: Any = None

    def restore(self) -> int:
        """Load every journaled session; those the daemon was running when it died end as terminated.
        Ended ones stay parked until used."""
        if self.journal is None:
            return 0
        for raw_record, last_seq in self.journal.sessions():
            if raw_record.get("ended") is not None:
                parked = parked_from_record(raw_record, last_seq, self.journal)
                self.parked[parked.session_id] = parked
                continue
            session = self._build(SessionRecord.model_validate(raw_record), last_seq)
            self.sessions[session.session_id] = session
            last_turn = self.journal.last_of_types(session.session_id, ("turn.started", "turn.ended"))
            if last_turn is not None:
                ev = orjson.loads(last_turn)
                if ev["type"] == "turn.started":
                    session.current_turn = ev["data"]["turn_id"]
            session.emit(
                "session.ended",
                SessionEndedData(
                    reason="terminated",
                    terminated_by="daemon",
                    message="the daemon stopped while this session was live; resume it to continue",
                ),
                synthetic=True,
                source="daemon",
            )
        return len(self.sessions) + len(self.parked)

    def _build(self, record: SessionRecord, last_seq: int) -> Session:
        assert self.journal is not None
        log_ = EventLog(record.session_id, self.journal, last_seq)
        session = Session(record, log_, self.journal, self.hitl_timeout_s)
        self._enable_auto_resume(session)
        return session

    # parking (sessions/parking.py)

    def start_parking(self) -> None:
        if self.journal is not None and self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(), name="park-sessions")

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(PARK_AFTER_S)
            try:
                if self.park_unused(PARK_AFTER_S):
                    # A Session holds reference cycles (its control state, futures, callbacks) and the daemon
                    # collects cycles rarely (server/daemon.py tune_gc), so free the parked ones now.
                    t0 = time.perf_counter()
                    gc.collect()
                    log.debug("collected parked sessions in %.1f ms", 1000 * (time.perf_counter() - t0))
            except Exception:  # never let one odd session stop parking the rest
                log.exception("parking ended sessions failed")

    def park_unused(self, unused_for: float) -> int:
        """Park every ended session that nobody has used for `unused_for` seconds; returns how many."""
        journal = self.journal
        if journal is None or journal.error is not None:  # its record may not be durable yet
            return 0
        now = time.monotonic()
        parked = 0
        for session in list(self.sessions.values()):
            if (
                session.ended
                and now - session.last_used >= unused_for
                and not session.log.subscribers
                and session.log.visible_seq == session.log.last_seq
                and session._settled.is_set()
                and not session._waiters
                and session.session_id not in self._creating
            ):
                self.parked[session.session_id] = ParkedSession.of(session)
                del self.sessions[session.session_id]
                self._unloaded[session.session_id] = session
                parked += 1
        return parked

    def _load(self, session_id: str) -> Session | None:
        """A parked session back as a `Session` (the same object if a call still holds it)."""
        parked = self.parked.get(session_id)
        if parked is None:
            return None
        session = self._unloaded.pop(session_id, None)
        if session is None:
            session = self._read(parked)
            if session is None:
                return None
        del self.parked[session_id]
        self.sessions[session_id] = session
        return session

    def _read(self, parked: ParkedSession) -> Session | None:
        assert self.journal is not None
        found = self.journal.session(parked.session_id)
        if found is None:
            log.warning("%s: parked but missing from the journal", parked.session_id)
            return None
        raw_record, last_seq = found
        return self._build(SessionRecord.model_validate(raw_record), last_seq)

    def known(self, session_id: str) -> bool:
        return session_id in self.sessions or session_id in self.parked

    def count(self) -> int:
        return len(self.sessions) + len(self.parked)

    def infos(self) -> list[Any]:
        """Every session's `SessionInfo`, loaded and parked, oldest first as the journal lists them."""
        out = [s.info() for s in self.sessions.values()]
        for parked in list(self.parked.values()):
            out.append(parked.info(lambda p=parked: self._read(p) or self._missing(p.session_id)))
        out.sort(key=lambda info: info.created_at)  # stable: as sessions were created, wherever they are now
        return out

    def _missing(self, session_id: str) -> Session:
        raise AppError(ErrorKind.SESSION_NOT_FOUND, f"no session {session_id!r}", session_id=session_id)

    def get(self, session_id: str) -> Session:
        session = self.sessions.get(session_id) or self._load(session_id)
        if session is None:
            return self._missing(session_id)
        session.last_used = time.monotonic()
        return session

    def list(self) -> list[Session | ParkedSession]:
        """Loaded sessions and parked ones (which have `record`, `log`, `usage` and `status`, not the rest)."""
        return [*self.sessions.values(), *self.parked.values()]

    async def find(self, session_id: str) -> Session:
        """get(), or a session only the store has, imported into this journal first (then an ordinary one)."""
        if not self.known(session_id) and self.remote is not None:
            await self.remote.import_session(self, session_id)
        return self.get(session_id)

    def adopt(self, raw_record: dict[str, Any], events: list[tuple[int, str, bytes]]) -> Session:
        """Add a session from elsewhere (the store) with its events, journaled here; it ends as restore() ends
        sessions that were live when their daemon died."""
        record = SessionRecord.model_validate(raw_record)
        session = Session(record, EventLog(record.session_id, self.journal), self.journal, self.hitl_timeout_s)
        open_turn = None
        for seq, type_, body in events:
            session.log.append(seq, type_, body)
            if type_ in ("turn.started", "turn.ended"):
                open_turn = orjson.loads(body)["data"]["turn_id"] if type_ == "turn.started" else None
        session.usage.backfill_to(session.log.last_seq)  # its imported turns count in its usage too
        session.persist()
        self.sessions[record.session_id] = session
        self._enable_auto_resume(session)
        if record.ended is None:
            session.current_turn = open_turn  # so that the ending closes it, as in restore()
            session.emit(
                "session.ended",
                SessionEndedData(
                    reason="terminated",
                    terminated_by="daemon",
                    message="the daemon running this session is gone; resume it to continue here",
                ),
                synthetic=True,
                source="daemon",
            )
        return session

    async def create(
        self, params: SessionCreateParams, fork: ForkPoint | None = None, started: dict[str, Any] | None = None
    ) -> Session:
        """A new session; `fork` starts it as a native fork, `started` adds to its session.started (control.py)."""
        driver = self._driver(params.agent)
        session_id = params.session_id or new_id("ses_")
        if self.known(session_id) or session_id in self._creating:
            raise AppError(ErrorKind.SESSION_EXISTS, f"session {session_id!r} already exists", session_id=session_id)
        cwd = _existing_dir(params.cwd or os.getcwd())
        if cwd is None:
            raise AppError(ErrorKind.AGENT_START_FAILED, f"cwd {params.cwd!r} is not a directory", cwd=params.cwd)
        record = SessionRecord(
            session_id=session_id,
            agent=driver.id,
            cwd=cwd,
            created_at=now_rfc3339(),
            model=params.model,
            agent_mode=params.agent_mode,
            permission_mode=params.permission_mode,
            env_keys=sorted(params.env or {}),
            mcp_servers=params.mcp_servers or [],
            include_raw=params.include_raw,
            hitl_timeout_s=params.hitl_timeout_s,
        )
        config = SessionConfig(
            session_id=session_id,
            agent=driver.id,
            cwd=cwd,
            model=params.model,
            agent_mode=params.agent_mode,
            permission_mode=params.permission_mode,
            env=dict(params.env or {}),
            mcp_servers=list(params.mcp_servers or []),
            include_raw=params.include_raw,
            state_dir=self.agent_state / session_id,
            fork=fork,
        )
        if params.env:  # only sessions that have one: thousands of sessions must not each keep an empty dict
            self._env[session_id] = dict(params.env)
        self._creating.add(session_id)
        try:
            session = Session(record, EventLog(session_id, self.journal), self.journal, self.hitl_timeout_s)
            session._settled.clear()
            session.started_extra = dict(started or {})
            session.persist()
            self.sessions[session_id] = session
            self._enable_auto_resume(session)
            await self._start(session, driver, config)
        finally:
            self._creating.discard(session_id)
        self._changed(session_id)
        return session

    def _enable_auto_resume(self, session: Session) -> None:
        try:
            resumable = self._driver(session.record.agent).capabilities.resume != "no"
        except AppError:
            resumable = False
        if resumable:
            sid = session.session_id
            session.auto_resume = lambda: self.resume(sid, None)

    async def resume(self, session_id: str, env: dict[str, str] | None, replay: Any = None) -> Session:
        """Continue an ended session on a fresh agent process, in the same transcript."""
        session = await self.find(session_id)
        if not session.ended:
            return session
        if env is not None:
            self._env[session_id] = dict(env)
            if not env:
                del self._env[session_id]
        record = session.record
        driver = self._driver(record.agent)
        if driver.capabilities.resume == "no":
            raise AppError(ErrorKind.NOT_SUPPORTED, f"{driver.name} sessions cannot be resumed", agent=driver.id)
        record.ended = None
        session._ended.clear()
        session._settled.clear()
        config = SessionConfig(
            session_id=session_id,
            agent=record.agent,
            cwd=record.cwd,
            model=record.model,
            agent_mode=record.agent_mode,
            permission_mode=record.permission_mode,
            env=dict(self._env.get(session_id, {})),
            mcp_servers=list(record.mcp_servers),
            include_raw=record.include_raw,
            resume_native_id=record.native_session_id,
            state_dir=self.agent_state / session_id,
        )
        session._terminating = False
        record.closed_by_client = False
        if self.remote is not None:  # native state from the store's snapshot, or a replay (store/restore.py)
            await self.remote.before_resume(self, session, config, replay)
        session.persist()
        await self._start(session, driver, config)
        self._changed(session_id)
        return session

    def driver(self, agent: str) -> AgentDriver:
        return self._driver(agent)

    def env(self, session_id: str) -> dict[str, str]:
        """The session's env as given at create or resume (in memory only)."""
        return dict(self._env.get(session_id, {}))

    async def _start(self, session: Session, driver: AgentDriver, config: SessionConfig) -> None:
        control_of(session, driver)  # the message queue runs once the agent is up
        try:
            await driver.prepare(lambda phase, done, total: None)
            await session.start(driver.open_session(config, session))
        except Exception as exc:
            message = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, AppError):
                log.exception("%s: agent failed to start", session.session_id)
            if not session.ended:
                session.emit(
                    "session.ended",
                    SessionEndedData(reason="error", terminated_by="agent", message=message),
                    source="daemon",
                )
            if isinstance(exc, AppError):
                raise
            raise AppError(ErrorKind.AGENT_START_FAILED, message, session_id=session.session_id) from None
        finally:
            session._settled.set()  # whatever happened, calls waiting on this session may go on

    async def terminate(self, session_id: str) -> None:
        session = self.get(session_id)
        session.record.closed_by_client = True
        await session.terminate()
        self._changed(session_id)

    def _changed(self, session_id: str) -> None:
        for callback in self.on_change:
            callback(session_id)

    async def shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        live = [s for s in self.sessions.values() if not s.ended]
        await asyncio.gather(*(s.terminate("the daemon is shutting down") for s in live), return_exceptions=True)
        if self.journal is not None:
            self.journal.close()
