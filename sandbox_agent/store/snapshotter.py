"""The snapshotter: a second thread that stores the agents' native state after their turns end.

The shipper only tells it which sessions ended a turn; archiving files and writing blobs happen here, on its own
SQLite and PostgreSQL connections, so shipping events never waits on it. A session is snapshotted at most once per
`every` seconds (a busy session's state is taken again a moment later) and only when the archive changed.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from .outbox import JournalReader
from .snapshots import FORMAT, SNAPSHOT_AGENTS, collect
from .writes import upsert_snapshot

log = logging.getLogger(__name__)

SNAPSHOT_EVERY = 2.0
# Agents may finish writing their files a moment after the turn ended (Amp's thread file: up to ~20 ms after a client
# saw turn.ended, measured); a snapshot taken too early would lack the last reply, or hold a half-written file.
SETTLE = 0.3
BACKOFF_MAX = 5.0


class Snapshotter:
    def __init__(
        self, url: str, journal_path: Path, daemon_id: str, every: float = SNAPSHOT_EVERY, settle: float = SETTLE
    ) -> None:
        self.url = url
        self.journal_path = journal_path
        self.agents_dir = journal_path.parent / "agents"
        self.daemon_id = daemon_id
        self.every = every
        self.settle = settle
        self.stored = 0
        self._pending: dict[str, int] = {}  # session -> sequence of its last ended turn
        self._taken_at: dict[str, float] = {}
        self._requested_at: dict[str, float] = {}
        self._digests: dict[str, str] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_until = 0.0
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._inflight = 0  # taken from pending, being stored

    @property
    def pending(self) -> int:
        return len(self._pending) + self._inflight

    def request(self, session_id: str, sequence: int) -> None:
        with self._lock:
            self._pending[session_id] = sequence
            self._requested_at[session_id] = time.monotonic()
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="store-snapshots", daemon=True)
        self._thread.start()

    def stop(self, drain_timeout: float) -> None:
        self._drain_until = time.monotonic() + drain_timeout
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(drain_timeout + 10)

    def _run(self) -> None:
        reader: JournalReader | None = None
        backoff = 0.2
        try:
            while True:
                stopping = self._stop.is_set()
                if stopping and (not self._pending or time.monotonic() >= self._drain_until):
                    return
                due = self._due(0.0, 0.0) if stopping else self._due(self.every, self.settle)
                if due:
                    self._inflight = len(due)
                    try:
                        reader = reader or JournalReader(self.journal_path)
                        self._store(reader, due)
                        backoff = 0.2
                    except Exception as exc:  # the database is away: keep them pending and retry
                        log.warning("store: snapshots wait: %s", exc)
                        with self._lock:
                            for sid, seq in due.items():
                                self._pending.setdefault(sid, seq)
                        self._inflight = 0
                        self._close_conn()
                        if self._stop.wait(backoff) and time.monotonic() >= self._drain_until:
                            return
                        backoff = min(backoff * 2, BACKOFF_MAX)
                        continue
                    self._inflight = 0
                self._wake.wait(0.1 if self._pending else 1.0)
                self._wake.clear()
        finally:
            self._close_conn()
            if reader is not None:
                reader.close()

    def _due(self, every: float, settle: float) -> dict[str, int]:
        """Pending sessions not snapshotted within `every` seconds whose turn ended `settle` seconds ago (taken out
        of pending under the lock)."""
        now = time.monotonic()
        due: dict[str, int] = {}
        with self._lock:
            for sid, seq in list(self._pending.items()):
                if now - self._taken_at.get(sid, -1e9) >= every and now - self._requested_at.get(sid, 0.0) >= settle:
                    due[sid] = seq
                    del self._pending[sid]
                    self._taken_at[sid] = now
        return due

    def _store(self, reader: JournalReader, due: dict[str, int]) -> None:
        rows = []
        for r in reader.records(sorted(due)):
            record = orjson.loads(r.record)
            agent, native_id = record.get("agent"), record.get("native_session_id")
            if agent not in SNAPSHOT_AGENTS or not native_id:
                continue
            try:
                data = collect(self.agents_dir, r.session_id, native_id, agent)
            except OSError as exc:
                log.warning("store: cannot snapshot %s: %s", r.session_id, exc)
                continue
            if data is None:
                continue
            digest = hashlib.sha256(data).hexdigest()
            if self._digests.get(r.session_id) != digest:
                rows.append((r.session_id, agent, native_id, due[r.session_id], data, digest))
        if not rows:
            return
        if self._conn is None:
            import psycopg

            from .shipper import CONNECT_OPTIONS

            self._conn = psycopg.connect(self.url, autocommit=True, **CONNECT_OPTIONS)
        with self._conn.transaction(), self._conn.cursor() as cur:
            for sid, agent, native_id, seq, data, _ in rows:
                upsert_snapshot(cur, self.daemon_id, sid, agent, native_id, seq, FORMAT, data)
        for sid, *_, digest in rows:
            self._digests[sid] = digest
        self.stored += len(rows)

    def _close_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None
