"""The durable journal: sessions and their events in one SQLite database (WAL), written by a writer thread.

Events are appended to memory at once; at the end of each event-loop iteration the batch is committed, on the
loop when it is small and the writer thread is idle, else by one dedicated writer thread (SQLite releases the GIL,
so this runs on the second core), which hands the commit back to the loop; a loop too busy to let the writer have
the GIL waits for it (`_unstarve`). An event is delivered to clients only after its transaction
committed (durable before delivery), so whatever any client saw survives `kill -9`. While the writer commits,
the next batch gathers: group commit without a timer. The backlog is bounded: past MAX_PENDING rows the loop
waits for the writer. If a write fails (a full disk), rows stay queued in memory, delivery goes on from memory,
and the write is retried; `health` reports the journal as degraded until it catches up.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ..ops.stats import STATS

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY,
  record BLOB NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  body BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_session ON events(session_id, seq);
PRAGMA user_version = 1;
"""
# Measured (20 interleaved sessions, 500-byte events): an append-only rowid table plus an index costs ~40% less
# per row than a table clustered on (session_id, seq), because bodies land on the rightmost pages only.

RETRY_SECONDS = 1.0
INLINE_MAX_ROWS = int(os.environ.get("SANDBOX_AGENT_JOURNAL_INLINE_ROWS", "64"))  # see _commit_inline
# Rows go in as one multi-row INSERT per chunk: one sqlite3_step for the whole chunk, during which the GIL is
# released. executemany steps once per row and takes the GIL back after each, so the writer thread queued behind a
# busy event loop for a switch interval (5 ms) per row (docs/decisions.md, "Journal: one statement per batch").
CHUNK_ROWS = 128
WRITER_PATIENCE_S = 0.005  # a batch on the writer thread this old makes the loop wait for it (see _unstarve)
WRITER_WAIT_MAX_S = 0.1  # the longest the loop blocks for it at a time
MAX_PENDING = 50_000  # rows waiting for the writer before the event loop waits for it (memory stays bounded)
Committed = Callable[[int], None]
Row = tuple[str, int, str, bytes]


@functools.cache
def _insert_sql(n: int) -> str:
    return "INSERT OR IGNORE INTO events(session_id, seq, type, body) VALUES " + ",".join(["(?,?,?,?)"] * n)


class Journal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = self._connect()  # the writer thread's
        self._db.executescript(SCHEMA)
        self._reader = self._connect()  # the event loop's, for reads only (WAL: readers never block the writer)
        # gathered on the loop during one iteration, handed over by _kick
        self._rows: list[Row] = []
        self._records: dict[str, bytes] = {}
        self._callbacks: dict[str, tuple[Committed, int]] = {}
        self._kicked = False
        self._watch: asyncio.TimerHandle | None = None
        # shared with the writer thread, under _cond
        self._cond = threading.Condition()
        self._queue_rows: list[Row] = []
        self._queue_records: dict[str, bytes] = {}
        self._queue_callbacks: dict[str, tuple[Committed, int]] = {}
        self._busy = False
        self._closing = False
        self._done: list[tuple[dict[str, tuple[Committed, int]], float, int]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.error: str | None = None
        self.commits = 0

    def _connect(self) -> sqlite3.Connection:
        # room for one cached statement per chunk size (1..CHUNK_ROWS) besides the others
        db = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, cached_statements=CHUNK_ROWS + 64
        )
        db.execute("PRAGMA journal_mode=WAL")
        # A process crash cannot lose a committed WAL transaction with NORMAL; only an OS crash could.
        db.execute("PRAGMA synchronous=NORMAL")
        # The default checkpoint size (1,000 pages): bigger ones made rows ~20% cheaper but each checkpoint then
        # stalled the writer for ~100 ms; with the writer off the loop that matters less, but tail latency still
        # rose (a delivery waits for its commit).
        db.execute("PRAGMA wal_autocheckpoint=1000")
        return db

    # writing (event loop side)

    def add_event(self, session_id: str, seq: int, type_: str, body: bytes, on_commit: Committed) -> None:
        self._rows.append((session_id, seq, type_, body))
        self._callbacks[session_id] = (on_commit, seq)
        self._schedule()

    def put_session(self, session_id: str, record: dict[str, Any]) -> None:
        self._records[session_id] = orjson.dumps(record)
        self._schedule()

    def _schedule(self) -> None:
        if not self._kicked:
            self._kicked = True
            self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._kick)

    def _kick(self) -> None:
        """Hand this iteration's rows to the writer (one lock round trip per loop iteration)."""
        self._kicked = False
        if not self._rows and not self._records:
            return
        if len(self._rows) <= INLINE_MAX_ROWS and self._commit_inline():
            return
        self._start_writer()
        with self._cond:
            while len(self._queue_rows) >= MAX_PENDING and self.error is None and not self._closing:
                self._cond.wait(0.05)  # backpressure: the writer is far behind; wait instead of growing
            self._queue_rows.extend(self._rows)
            self._queue_records.update(self._records)
            for sid, cb in self._callbacks.items():
                self._queue_callbacks[sid] = cb  # the newest sequence per session is what counts
            self._cond.notify_all()
        self._rows, self._records, self._callbacks = [], {}, {}
        if self._watch is None and self._loop is not None:
            self._watch = self._loop.call_later(WRITER_PATIENCE_S, self._unstarve)

    def _unstarve(self) -> None:
        """On the loop, a moment after handing the writer work: if it is still at it, wait for it here, blocked.

        A loop that never blocks starves the writer thread of the GIL. CPython wakes a waiting thread whenever the
        holder releases the GIL for I/O (the select(0) of every busy iteration), the holder takes it back first,
        and the waiter's switch-interval timeout restarts each time, so it never asks for a switch. Measured: a
        busy loop held back a 100-row commit on the thread for over 5 s (tests/test_journal_batches.py). Waiting
        on the condition blocks in C with the GIL released, so the writer finishes; the commit is then delivered
        at once, as an inline commit would have been."""
        self._watch = None
        with self._cond:
            self._cond.wait_for(
                lambda: not (self._busy or self._queue_rows) or self._closing or self.error is not None,
                WRITER_WAIT_MAX_S,
            )
            pending = self._busy or bool(self._queue_rows)
        self._deliver_done()
        if pending and not self._closing and self.error is None and self._loop is not None:
            self._watch = self._loop.call_later(WRITER_PATIENCE_S, self._unstarve)

    def _start_writer(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_loop, name="journal-writer", daemon=True)
            self._thread.start()

    def _commit_inline(self) -> bool:
        """Commit a small batch here on the loop when the writer has nothing queued or running.

        Handing a batch to the thread and its commit back costs two thread wake-ups, which on a busy 2-core box
        cost more than committing a few rows (measured in docs/decisions.md); bigger batches, and any batch
        while the writer works, still go to the thread so the loop never waits behind a long commit."""
        with self._cond:
            if self._busy or self._queue_rows or self._queue_records or self.error is not None or self._closing:
                return False
            self._busy = True  # the writer thread keeps off the connection meanwhile
        rows, records, callbacks = self._rows, self._records, self._callbacks
        self._rows, self._records, self._callbacks = [], {}, {}
        if not self._commit_batch(rows, records, callbacks):
            self._start_writer()  # the writer thread retries them, in order, as for its own failed commits
        self._deliver_done()
        return True

    def _commit_batch(self, rows: list[Row], records: dict[str, bytes], callbacks: dict[str, Any]) -> bool:
        """Commit one batch (the connection is ours: `_busy` is set) and record its outcome for delivery."""
        started = time.perf_counter()
        ok = self._commit(rows, records)
        elapsed = time.perf_counter() - started
        with self._cond:
            if not ok:
                # keep them, in order, ahead of anything newer; delivery goes on from memory meanwhile
                self._queue_rows[:0] = rows
                self._queue_records = {**records, **self._queue_records}
            self._done.append((callbacks, elapsed if ok else -1.0, len(rows)))
            self._busy = False
            self._cond.notify_all()
        return ok

    # the writer thread

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not (self._queue_rows or self._queue_records) and not self._closing:
                    self._cond.wait()
                if not (self._queue_rows or self._queue_records):
                    return  # closing, and nothing left
                rows, records, callbacks = self._queue_rows, self._queue_records, self._queue_callbacks
                self._queue_rows, self._queue_records, self._queue_callbacks = [], {}, {}
                self._busy = True
                self._cond.notify_all()
            ok = self._commit_batch(rows, records, callbacks)
            self._signal_loop()
            if not ok:
                with self._cond:
                    if not self._closing:
                        self._cond.wait(RETRY_SECONDS)
                    elif self.error is not None:
                        return  # closing on a sick disk: what is left stays lost with the process, as before

    def _commit(self, rows: list[Row], records: dict[str, bytes]) -> bool:
        try:
            if not records and 0 < len(rows) <= CHUNK_ROWS:  # the usual batch: one autocommitted statement, one step
                self._insert(rows)
                return self._committed()
            self._db.execute("BEGIN")
            if records:
                now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                self._db.executemany(
                    "INSERT INTO sessions(session_id, record, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(session_id) DO UPDATE SET record = excluded.record",
                    [(sid, rec, now) for sid, rec in records.items()],
                )
            for i in range(0, len(rows), CHUNK_ROWS):
                self._insert(rows[i : i + CHUNK_ROWS])
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if self.error is None:
                log.error("journal write failed, keeping %d events in memory and retrying: %s", len(rows), exc)
            self.error = str(exc)
            return False
        return self._committed()

    def _insert(self, rows: list[Row]) -> None:
        """At most CHUNK_ROWS rows as one INSERT: one sqlite3_step, with the GIL released throughout."""
        self._db.execute(_insert_sql(len(rows)), [v for row in rows for v in row])

    def _committed(self) -> bool:
        if self.error is not None:
            log.warning("journal writes recovered")
        self.error = None
        return True

    def _signal_loop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._deliver_done)
        except RuntimeError:
            pass  # the loop is closed: close() delivers what is left

    def _deliver_done(self) -> None:
        """On the loop: tell each event log how far it is durable (or, on a sick disk, delivered from memory)."""
        with self._cond:
            done, self._done = self._done, []
        for callbacks, elapsed, n in done:
            if elapsed >= 0:
                self.commits += 1
                STATS.journal_committed(elapsed, n)
            for on_commit, seq in callbacks.values():
                on_commit(seq)

    def flush(self) -> None:
        """Commit everything queued and deliver the commits, before returning (loop thread, blocking)."""
        self._kick()
        with self._cond:
            while (self._queue_rows or self._queue_records or self._busy) and self.error is None:
                self._cond.wait(0.05)
        self._deliver_done()

    # reading (event loop side, committed rows only)

    def read_events(self, session_id: str, after: int, limit: int, upto: int) -> list[bytes]:
        cur = self._reader.execute(
            "SELECT body FROM events WHERE session_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (session_id, after, upto, limit),
        )
        return [bytes(r[0]) for r in cur]

    _RECORDS = (
        "SELECT s.record, (SELECT COALESCE(MAX(seq), 0) FROM events e WHERE e.session_id = s.session_id) "
        "FROM sessions s "
    )

    def sessions(self) -> list[tuple[dict[str, Any], int]]:
        """Every stored session record with its last sequence number."""
        cur = self._reader.execute(self._RECORDS + "ORDER BY s.created_at, s.session_id")
        return [(orjson.loads(rec), int(last)) for rec, last in cur]

    def session(self, session_id: str) -> tuple[dict[str, Any], int] | None:
        """One stored session record with its last sequence number."""
        row = self._reader.execute(self._RECORDS + "WHERE s.session_id = ?", (session_id,)).fetchone()
        return None if row is None else (orjson.loads(row[0]), int(row[1]))

    def last_of_types(self, session_id: str, types: tuple[str, ...]) -> bytes | None:
        marks = ",".join("?" for _ in types)
        row = self._reader.execute(
            f"SELECT body FROM events WHERE session_id = ? AND type IN ({marks}) ORDER BY seq DESC LIMIT 1",
            (session_id, *types),
        ).fetchone()
        return bytes(row[0]) if row else None

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self.flush()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(10)
        self._deliver_done()
        self._reader.close()
        self._db.close()
