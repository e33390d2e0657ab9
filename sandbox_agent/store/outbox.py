"""The local journal read as an outbox: its own read-only connection, rows in commit order, a watermark file.

The daemon's journal connection is the only writer of the journal; this side never writes to it (a second writer
would make the daemon's commits wait or fail with SQLITE_BUSY). The watermark lives in a small side file, written
after each batch reached PostgreSQL; losing an update only re-ships rows, which the store ignores.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
from pathlib import Path
from typing import Any

import orjson

from .writes import EventRow, SessionRow, event_row

STATE_FILE = "store-outbox.json"


def store_key(url: str) -> str:
    """Which database a watermark belongs to, without the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:
        parts = {"url": url}
    parts.pop("password", None)
    ident = "|".join(f"{k}={parts.get(k)}" for k in sorted(parts))
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


class OutboxState:
    """daemon_id and, per store, the last journal rowid known to be in it."""

    def __init__(self, state_dir: Path, url: str) -> None:
        self.path = state_dir / STATE_FILE
        self.key = store_key(url)
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            data = {}
        self._data: dict[str, Any] = data if isinstance(data, dict) else {}
        daemon_id = os.environ.get("SANDBOX_AGENT_DAEMON_ID") or self._data.get("daemon_id")
        if not daemon_id:
            daemon_id = f"dmn_{socket.gethostname()[:40]}_{os.urandom(4).hex()}"
        self.daemon_id: str = daemon_id
        self._data["daemon_id"] = daemon_id
        stores = self._data.setdefault("stores", {})
        mark = stores.get(self.key) or {}
        self.watermark = int(mark.get("watermark") or 0)
        self.journal_inode = mark.get("journal_inode")

    def save(self, watermark: int, journal_inode: int | None) -> None:
        self.watermark = watermark
        self.journal_inode = journal_inode
        self._data["stores"][self.key] = {"watermark": watermark, "journal_inode": journal_inode}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(orjson.dumps(self._data))
        os.replace(tmp, self.path)  # no fsync: a lost update re-ships rows, which is harmless


class JournalReader:
    """Reads the daemon's SQLite journal (WAL) from another connection, never writing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA query_only=1")
        self._db.execute("PRAGMA busy_timeout=2000")
        self.inode = os.stat(path).st_ino
        self._agents: dict[str, str] = {}

    def head(self) -> int:
        """The newest committed rowid (0 for none)."""
        row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
        return int(row[0])

    def rows_after(self, watermark: int, limit: int) -> list[tuple[int, str, int, str, bytes]]:
        return self._db.execute(
            "SELECT id, session_id, seq, type, body FROM events WHERE id > ? ORDER BY id LIMIT ?", (watermark, limit)
        ).fetchall()

    def time_of(self, rowid: int) -> str | None:
        row = self._db.execute("SELECT body FROM events WHERE id = ?", (rowid,)).fetchone()
        if row is None:
            return None
        return orjson.loads(row[0]).get("time")

    def records(self, session_ids: list[str] | None = None) -> list[SessionRow]:
        if session_ids is None:
            cur = self._db.execute("SELECT record FROM sessions")
        else:
            marks = ",".join("?" for _ in session_ids)
            cur = self._db.execute(f"SELECT record FROM sessions WHERE session_id IN ({marks})", session_ids)
        out = []
        for (raw,) in cur:
            record = orjson.loads(raw)
            if isinstance(record, dict) and "session_id" in record:
                out.append(SessionRow.from_record(record))
                self._agents[out[-1].session_id] = out[-1].agent
        return out

    def agent_of(self, session_id: str) -> str:
        agent = self._agents.get(session_id)
        if agent is None:
            self.records([session_id])
            agent = self._agents.setdefault(session_id, "unknown")
        return agent

    def event_rows(self, rows: list[tuple[int, str, int, str, bytes]]) -> list[EventRow]:
        return [event_row(sid, seq, self.agent_of(sid), type_, body) for _, sid, seq, type_, body in rows]

    def close(self) -> None:
        self._db.close()
