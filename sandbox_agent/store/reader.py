"""`Store(url)`: read (and record into) the PostgreSQL store without a daemon."""

from __future__ import annotations

import threading
from typing import Any

import orjson
from pydantic import BaseModel

from .schema import LATEST, current_version, migrate
from .writes import EventRow, SessionRow, insert_events, prepare, upsert_sessions


class StoreError(RuntimeError):
    """The store cannot be reached or is not a sandbox-agent store."""


class StoredSession(BaseModel):
    session_id: str
    agent: str
    daemon_id: str
    created_at: str
    updated_at: str
    ended: bool
    last_sequence: int
    record: dict[str, Any]


class Transcript(BaseModel):
    session: StoredSession
    events: list[dict[str, Any]]


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if hasattr(value, "isoformat") else str(value)


SESSION_COLUMNS = (
    "s.session_id, s.agent, s.daemon_id, s.created_at, s.updated_at, s.ended, "
    "COALESCE((SELECT MAX(e.sequence) FROM events e WHERE e.session_id = s.session_id), 0), s.record"
)


def _session(row: tuple[Any, ...]) -> StoredSession:
    sid, agent, daemon_id, created, updated, ended, last, record = row
    return StoredSession(
        session_id=sid,
        agent=agent,
        daemon_id=daemon_id,
        created_at=_iso(created),
        updated_at=_iso(updated),
        ended=bool(ended),
        last_sequence=int(last),
        record=record if isinstance(record, dict) else orjson.loads(record),
    )


class Store:
    """One connection to a store (thread-safe: calls are serialized). Use as a context manager or `close()`."""

    def __init__(self, url: str, *, connect_timeout: float = 10) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._conn: Any = None
        self._migrated = False
        self._lock = threading.Lock()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        import psycopg

        from .shipper import scrub

        try:
            self._migrated = False  # a new connection: its temporary staging table is gone
            self._conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=int(self.connect_timeout), application_name="sandbox-agent"
            )
        except psycopg.Error as exc:
            raise StoreError(scrub(f"cannot connect to the store: {exc}".strip(), self.url)) from None
        return self._conn

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with self._lock:
            for attempt in (1, 2):  # a connection the server dropped (a restart) is replaced once
                conn = self._connection()
                try:
                    version = current_version(conn)
                    if version == 0:
                        raise StoreError("this database holds no sandbox-agent store yet (no schema_version table)")
                    if version > LATEST:
                        raise StoreError(
                            f"the store's schema is version {version}, newer than this sandbox-agent ({LATEST})"
                        )
                    return conn.execute(sql, params).fetchall()
                except psycopg.OperationalError as exc:
                    conn.close()
                    if attempt == 2:
                        from .shipper import scrub

                        raise StoreError(scrub(f"the store failed: {exc}".strip(), self.url)) from None
            raise AssertionError("unreachable")

    # reading

    def sessions(
        self, agent: str | None = None, daemon_id: str | None = None, limit: int | None = None
    ) -> list[StoredSession]:
        """Every session, oldest first; optionally of one agent or one daemon."""
        where, params = [], []
        if agent:
            where.append("s.agent = %s")
            params.append(agent)
        if daemon_id:
            where.append("s.daemon_id = %s")
            params.append(daemon_id)
        sql = f"SELECT {SESSION_COLUMNS} FROM sessions s"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY s.created_at, s.session_id"
        if limit:
            sql += " LIMIT %s"
            params.append(int(limit))
        return [_session(r) for r in self._read(sql, tuple(params))]

    def session(self, session_id: str) -> StoredSession | None:
        rows = self._read(f"SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.session_id = %s", (session_id,))
        return _session(rows[0]) if rows else None

    def events(self, session_id: str, offset: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Events with sequence > offset, in order, at most `limit` (as the JSON objects the daemon sent)."""
        rows = self._read(
            "SELECT body::text FROM events WHERE session_id = %s AND sequence > %s ORDER BY sequence LIMIT %s",
            (session_id, int(offset), int(limit)),
        )
        return [orjson.loads(r[0]) for r in rows]

    def raw_events(self, session_id: str, offset: int = 0, limit: int = 1000) -> list[bytes]:
        """The same, as the exact JSON bytes stored."""
        rows = self._read(
            "SELECT body::text FROM events WHERE session_id = %s AND sequence > %s ORDER BY sequence LIMIT %s",
            (session_id, int(offset), int(limit)),
        )
        return [r[0].encode() for r in rows]

    def transcript(self, session_id: str) -> Transcript:
        session = self.session(session_id)
        if session is None:
            raise StoreError(f"no session {session_id!r} in the store")
        events: list[dict[str, Any]] = []
        while True:
            page = self.events(session_id, len(events) and events[-1]["sequence"], 5000)
            events += page
            if len(page) < 5000:
                return Transcript(session=session, events=events)

    # recording (client side)

    def record(self, daemon_id: str, session: dict[str, Any] | None, events: list[dict[str, Any]]) -> int:
        """Write a session record and events idempotently (existing sequences are kept); returns rows added."""
        rows = [
            EventRow(
                session_id=str(e["session_id"]),
                sequence=int(e["sequence"]),
                agent=str((session or {}).get("agent") or "unknown"),
                type=str(e["type"]),
                time=str(e.get("time") or "1970-01-01T00:00:00Z"),
                body=orjson.dumps(e).decode(),
            )
            for e in events
        ]
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                if not self._migrated:
                    migrate(conn)
                    prepare(conn)
                    self._migrated = True
                with conn.transaction(), conn.cursor() as cur:
                    if session is not None:
                        upsert_sessions(cur, daemon_id, [SessionRow.from_record(session)])
                    return insert_events(cur, daemon_id, rows)
            except psycopg.OperationalError:
                conn.close()  # the next call connects afresh
                raise

    def snapshot(self, session_id: str) -> dict[str, Any] | None:
        """The newest native state snapshot of a session: agent, native_session_id, sequence, format, data."""
        rows = self._read(
            "SELECT agent, native_session_id, sequence, format, data FROM snapshots WHERE session_id = %s",
            (session_id,),
        )
        if not rows:
            return None
        agent, native_id, sequence, fmt, data = rows[0]
        return {"agent": agent, "native_session_id": native_id, "sequence": int(sequence), "format": fmt,
                "data": bytes(data)}
