"""The shipper: one thread per daemon copies the local journal (the outbox) into PostgreSQL, in order.

Clients never wait on it: the event loop only reads its status. Rows go in journal commit order (rowid), in
batches, each batch one PostgreSQL transaction that upserts the records of the sessions it touches and inserts
the events with ON CONFLICT DO NOTHING, so re-shipping after a crash or a lost watermark is harmless. When the
database is away the thread retries with backoff and the outbox (the journal) simply keeps growing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

from .outbox import JournalReader, OutboxState
from .schema import migrate
from .snapshotter import Snapshotter
from .writes import SMALL_ROWS, EventRow, SessionRow, insert_events, prepare, ship_small, upsert_sessions

log = logging.getLogger(__name__)

BATCH_ROWS = 5000
POLL_BUSY = 0.005  # seconds between looks at the journal while rows keep coming
POLL_IDLE = 0.025  # ... and once it has been quiet for a while
BUSY_FOR = 2.0
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 5.0
RESCAN_RECORDS = 5.0  # a record can change without an event (rare): compare them all this often
SAVE_EVERY = 0.5  # seconds between watermark file writes (a lost write only re-ships rows)
# events after which a session's record may have changed (native id, settings, ending): ship it with them
RECORD_EVENTS = frozenset({"session.started", "session.ended", "session.configured", "turn.ended"})
LAG_SAMPLES = 20_000  # recent per-event lags kept for p50/p99 (the benchmark reads them)

CONNECT_OPTIONS: dict[str, Any] = {
    "connect_timeout": 5,
    "application_name": "sandbox-agent",
    # a database that vanishes from the network (not just stops) is noticed in seconds, not hours
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 15000,
}


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def scrub(message: str, url: str) -> str:
    """Error text without the URL's password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        password = conninfo_to_dict(url).get("password")
    except Exception:
        password = None
    return message.replace(str(password), "***") if password else message


class Shipper:
    def __init__(
        self, url: str, journal_path: Path, batch_rows: int = BATCH_ROWS, daemon_id: str | None = None
    ) -> None:
        self.url = url
        self.journal_path = journal_path
        self.batch_rows = batch_rows
        self.outbox = OutboxState(journal_path.parent, url)
        if daemon_id:  # the daemon's choice (the shipper process is told it), kept with the watermark
            self.outbox.daemon_id = daemon_id
        self.daemon_id = self.outbox.daemon_id
        self.state = "starting"  # starting | ok | down | stopped
        self.error: str | None = None
        self.head = 0
        self.shipped_rows = 0
        self.skipped_rows = 0
        self.batches = 0
        self.snapshotter = Snapshotter(url, journal_path, self.daemon_id)
        self.ship_seconds = 0.0
        self.lag_samples: deque[float] = deque(maxlen=LAG_SAMPLES)
        self._oldest_unshipped: tuple[int, float | None] | None = None
        self._shipped_records: dict[str, str] = {}
        self._last_rescan = 0.0
        self._last_rows_at = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_until = 0.0
        self._saved_watermark = self.outbox.watermark
        self._saved_at = 0.0
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._reader: JournalReader | None = None

    # the daemon's side (event loop): start, status, stop

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="store-shipper", daemon=True)
        self._thread.start()
        self.snapshotter.start()

    def wake(self) -> None:
        self._wake.set()

    @property
    def watermark(self) -> int:
        return self.outbox.watermark

    def status(self) -> dict[str, Any]:
        """state, lag_rows and lag_seconds for /v1/health (read without locks: each field is one assignment)."""
        lag_rows = max(0, self.head - self.outbox.watermark)
        lag_seconds = 0.0
        oldest = self._oldest_unshipped
        if lag_rows and oldest is not None and oldest[1] is not None:
            lag_seconds = max(0.0, time.time() - oldest[1])
        out: dict[str, Any] = {
            "state": self.state,
            "lag_rows": lag_rows,
            "lag_seconds": round(lag_seconds, 3),
            "daemon_id": self.daemon_id,
            "shipped_rows": self.shipped_rows,
            "snapshots_pending": self.snapshotter.pending,
        }
        if self.error:
            out["error"] = self.error
        if self.skipped_rows:
            out["skipped_rows"] = self.skipped_rows
        return out

    def stop(self, drain_timeout: float = 3.0) -> None:
        """Blocking (call it from a thread): ship what is left for up to `drain_timeout` s, then end."""
        self._drain_until = time.monotonic() + drain_timeout
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(drain_timeout + 10)
        self.snapshotter.stop(max(1.0, self._drain_until - time.monotonic()))
        self.state = "stopped"

    # the thread

    def _run(self) -> None:
        backoff = BACKOFF_FIRST
        try:
            self._reader = JournalReader(self.journal_path)
        except Exception as exc:  # the daemon opened it a moment ago, so this is unexpected
            self.state, self.error = "down", f"cannot read the journal: {exc}"
            log.error("store: %s", self.error)
            return
        if self.outbox.journal_inode not in (None, self._reader.inode) or self._reader.head() < self.outbox.watermark:
            log.info("store: the journal was replaced; shipping it from the start (the store ignores repeats)")
            self.outbox.save(0, self._reader.inode)
        try:
            while True:
                if self._stop.is_set() and (time.monotonic() >= self._drain_until or self._caught_up()):
                    return
                try:
                    if self._conn is None:
                        self._connect()
                    moved = self._step()
                    backoff = BACKOFF_FIRST
                except Exception as exc:  # psycopg.OperationalError and friends: the database is away
                    self._lost(exc)
                    if self._stop.is_set():
                        return
                    self._sleep(backoff, refresh=True)
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    continue
                if not moved:
                    busy = time.monotonic() - self._last_rows_at < BUSY_FOR
                    self._sleep(POLL_BUSY if busy else POLL_IDLE)
        finally:
            self._close()

    def _sleep(self, seconds: float, refresh: bool = False) -> None:
        """Wait; `refresh` keeps the lag figures current meanwhile (an outage must show a growing lag). Polls
        between batches do not: each query costs a GIL hand-off, and the next batch sets them anyway."""
        deadline = time.monotonic() + seconds
        while True:
            if refresh:
                self._refresh_head()
            left = deadline - time.monotonic()
            if left <= 0 or self._wake.wait(min(left, 0.25)):
                break
        self._wake.clear()

    def _caught_up(self) -> bool:
        return self._reader is None or self._reader.head() <= self.outbox.watermark

    def _refresh_head(self) -> None:
        assert self._reader is not None
        self.head = self._reader.head()
        first = self.outbox.watermark + 1
        if self.head >= first and (self._oldest_unshipped is None or self._oldest_unshipped[0] != first):
            self._oldest_unshipped = (first, _parse_time(self._reader.time_of(first)))

    def _connect(self) -> None:
        import psycopg

        conn = psycopg.connect(self.url, autocommit=True, **CONNECT_OPTIONS)
        try:
            migrate(conn)
            prepare(conn)
        except Exception:
            conn.close()
            raise
        self._conn = conn
        self._shipped_records.clear()  # the database may be a restored copy: send every record again
        self._last_rescan = 0.0
        if self.state != "ok":
            log.info("store: connected (daemon_id %s)", self.daemon_id)
        self.state, self.error = "ok", None

    def _lost(self, exc: Exception) -> None:
        message = scrub(f"{type(exc).__name__}: {exc}".strip(), self.url)
        if self.state != "down":
            log.warning("store unavailable, events wait in the local journal: %s", message)
        self.state, self.error = "down", message
        self._close_conn()

    def _step(self) -> bool:
        """Ship one batch; False when there was nothing to ship.

        Every blocking call lets the event loop's thread take the GIL, and getting it back can take a switch
        interval (5 ms) on a busy daemon; so a batch makes as few calls as it can: one journal read, records only
        when the batch may have changed them, and COPY + INSERT in one transaction.
        """
        assert self._reader is not None
        now = time.monotonic()
        if now - self._last_rescan >= RESCAN_RECORDS:
            self._last_rescan = now
            self._ship_records(None)
        rows = self._reader.rows_after(self.outbox.watermark, self.batch_rows)
        if not rows:
            self._save_watermark(now)
            return False
        self._last_rows_at = now
        events = self._reader.event_rows(rows)
        self.head = max(self.head, rows[-1][0])
        first_time = _parse_time(events[0].time)
        self._oldest_unshipped = (rows[0][0], first_time)
        sessions = sorted({e.session_id for e in events if e.session_id not in self._shipped_records
                           or e.type in RECORD_EVENTS})
        t0 = time.perf_counter()
        try:
            self._ship(events, sessions)
        except Exception as exc:
            if not _is_bad_data(exc):
                raise
            self._ship_one_by_one(events, sessions)
        self.ship_seconds += time.perf_counter() - t0
        self.batches += 1
        self.shipped_rows += len(events)
        shipped_at = time.time()
        for e in events:
            t = _parse_time(e.time)
            if t is not None:
                self.lag_samples.append(shipped_at - t)
        for e in events:
            if e.type in ("turn.ended", "session.ended"):
                self.snapshotter.request(e.session_id, e.sequence)  # its own thread stores the native state
        self.outbox.watermark = rows[-1][0]
        self._save_watermark(now)
        return True


    def _save_watermark(self, now: float) -> None:
        if self.outbox.watermark != self._saved_watermark and now - self._saved_at >= SAVE_EVERY:
            self._flush_watermark()

    def _flush_watermark(self) -> None:
        assert self._reader is not None
        self.outbox.save(self.outbox.watermark, self._reader.inode)
        self._saved_watermark, self._saved_at = self.outbox.watermark, time.monotonic()

    def _ship(self, events: list[EventRow], sessions: list[str]) -> None:
        records = self._changed_records(sessions)
        if len(events) <= SMALL_ROWS:
            ship_small(self._conn, self.daemon_id, records, events)
        else:
            with self._conn.transaction(), self._conn.cursor() as cur:
                upsert_sessions(cur, self.daemon_id, records)
                insert_events(cur, self.daemon_id, events)
        self._remember(records)

    def _ship_one_by_one(self, events: list[EventRow], sessions: list[str]) -> None:
        """A batch the database refused as data (not as an outage): ship row by row and skip the bad ones."""
        self._ship_records(sessions)
        for e in events:
            try:
                with self._conn.transaction(), self._conn.cursor() as cur:
                    insert_events(cur, self.daemon_id, [e])
            except Exception as exc:
                if not _is_bad_data(exc):
                    raise
                self.skipped_rows += 1
                log.error("store: skipped event %s#%d, refused by the database: %s", e.session_id, e.sequence, exc)

    def _changed_records(self, session_ids: list[str] | None) -> list[SessionRow]:
        assert self._reader is not None
        return [r for r in self._reader.records(session_ids) if self._shipped_records.get(r.session_id) != r.record]

    def _remember(self, records: list[SessionRow]) -> None:
        for r in records:
            self._shipped_records[r.session_id] = r.record

    def _ship_records(self, session_ids: list[str] | None) -> None:
        """Upsert the records that changed since they were last shipped."""
        records = self._changed_records(session_ids)
        if records:
            with self._conn.transaction(), self._conn.cursor() as cur:
                upsert_sessions(cur, self.daemon_id, records)
            self._remember(records)

    def _close_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def _close(self) -> None:
        if self._reader is not None and self.outbox.watermark != self._saved_watermark:
            self._flush_watermark()
        self._close_conn()
        if self._reader is not None:
            self._reader.close()


def _is_bad_data(exc: Exception) -> bool:
    """The database refused these values (not the connection, not the schema): retrying cannot help."""
    import psycopg

    return isinstance(exc, psycopg.DataError | psycopg.IntegrityError)
