"""Ended sessions nobody is using, parked: a few fields and their `SessionInfo` JSON instead of a `Session`.

A shared daemon lives for days and sees thousands of sessions. A `Session` object costs tens of KB even with its
event window released (the record, its usage ledger, control and HITL state, asyncio events), so an ended one
that has had no subscriber and no call for a while is parked and `SessionManager.get` loads it back from the
journal on its next use. Everything about an ended session is in the journal already; nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..ops.usage import UsageLedger
from ..schema.methods import SessionInfo
from .event_log import EventLog
from .journal import Journal

if TYPE_CHECKING:
    from .session import Session

PARK_AFTER_S = 5.0  # an ended session unused this long is parked (checked by the manager's sweep)


class ParkedSession:
    """What `sessions/list`, `sessions/usage`, metrics and the file roots need of an ended session, and no more."""

    __slots__ = ("_info", "agent", "cwd", "journal", "last_seq", "model", "session_id")
    status = "ended"

    def __init__(self, session_id: str, agent: str, model: str | None, cwd: str, last_seq: int, journal: Journal):
        self.session_id = session_id
        self.agent = agent
        self.model = model
        self.cwd = cwd
        self.last_seq = last_seq
        self.journal = journal
        self._info: bytes | None = None  # computed on first use for sessions parked while restoring

    @classmethod
    def of(cls, session: Session) -> ParkedSession:
        assert session.journal is not None
        r = session.record
        parked = cls(r.session_id, r.agent, r.model, r.cwd, session.log.last_seq, session.journal)
        parked._info = _info_json(session)
        return parked

    @property
    def record(self) -> ParkedSession:  # `sessions/usage` reads record.session_id, .agent and .model
        return self

    @property
    def log(self) -> EventLog:
        """A reader over the journal (no memory window): built per use, never kept."""
        return EventLog(self.session_id, self.journal, self.last_seq)

    @property
    def usage(self) -> UsageLedger:
        """Its turns' usage, read from the journal's turn.ended events on each use and not kept."""
        return UsageLedger(hooked=False)

    def info(self, loaded: Callable[[], Session]) -> SessionInfo:
        """Its info; a session parked at start-up is loaded once (`loaded`, not kept) to learn it."""
        if self._info is None:
            self._info = _info_json(loaded())
        return SessionInfo.model_validate_json(self._info)


def _info_json(session: Session) -> bytes:
    return session.info().model_dump_json(exclude_none=True).encode()


def parked_from_record(raw_record: dict[str, object], last_seq: int, journal: Journal) -> ParkedSession:
    """A journaled ended session, parked without building a `Session` (restore at start-up)."""
    return ParkedSession(
        str(raw_record["session_id"]),
        str(raw_record["agent"]),
        raw_record.get("model") if isinstance(raw_record.get("model"), str) else None,  # type: ignore[arg-type]
        str(raw_record["cwd"]),
        last_seq,
        journal,
    )

