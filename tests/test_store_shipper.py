"""The shipper on its own, against a journal written with plain SQLite (its tables are the contract)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import orjson
import psycopg

from sandbox_agent.store.shipper import Shipper
from tests.pg_helpers import pg, store_url  # noqa: F401 - fixtures

SCHEMA = (
    "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, record BLOB NOT NULL, created_at TEXT NOT NULL);"
    "CREATE TABLE events (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "type TEXT NOT NULL, body BLOB NOT NULL);"
)


def journal(path: Path, events: list[tuple[str, int, str]]) -> None:
    """(session_id, seq, time) rows; the session records come first."""
    db = sqlite3.connect(str(path))
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    for sid in sorted({e[0] for e in events}):
        record = {"session_id": sid, "agent": "mock", "cwd": "/w", "created_at": "2026-11-30T10:00:00.000Z"}
        db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (sid, orjson.dumps(record), "now"))
    for sid, seq, when in events:
        body = {"event_id": f"e{sid}{seq}", "sequence": seq, "time": when, "session_id": sid, "source": "daemon",
                "type": "error", "data": {"message": "nul \u0000 and ünïcode"}}
        db.execute("INSERT INTO events(session_id, seq, type, body) VALUES (?, ?, ?, ?)",
                   (sid, seq, "error", orjson.dumps(body)))
    db.commit()
    db.close()


def ship(path: Path, url: str) -> Shipper:
    shipper = Shipper(url, path)
    shipper.start()
    deadline = time.monotonic() + 20
    while shipper.status()["lag_rows"] or shipper.head == 0:
        assert time.monotonic() < deadline, shipper.status()
        time.sleep(0.02)
    shipper.stop(1)
    return shipper


def test_a_row_the_database_refuses_is_skipped_not_retried_forever(tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ok = "2026-11-30T10:00:01.000Z"
    path = tmp_path / "journal.sqlite3"
    journal(path, [("s1", 1, ok), ("s1", 2, "not a time"), ("s1", 3, ok), ("s2", 1, ok)])
    shipper = ship(path, store_url)
    assert shipper.skipped_rows == 1 and shipper.shipped_rows == 4
    with psycopg.connect(store_url) as conn:
        rows = conn.execute("SELECT session_id, sequence, body::text FROM events ORDER BY 1, 2").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("s1", 1), ("s1", 3), ("s2", 1)]
    assert "\\u0000" in rows[0][2] and "ünïcode" in rows[0][2], "json keeps what jsonb would refuse"


def test_a_replaced_journal_is_shipped_from_the_start(tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ok = "2026-11-30T10:00:01.000Z"
    path = tmp_path / "journal.sqlite3"
    journal(path, [("a", n, ok) for n in range(1, 11)])
    ship(path, store_url)
    path.unlink()
    for extra in ("-wal", "-shm"):
        Path(str(path) + extra).unlink(missing_ok=True)
    journal(path, [("b", n, ok) for n in range(1, 4)])  # a new journal, the old watermark (10) left behind
    shipper = ship(path, store_url)
    assert shipper.watermark == 3
    with psycopg.connect(store_url) as conn:
        counts = dict(conn.execute("SELECT session_id, count(*) FROM events GROUP BY 1").fetchall())
    assert counts == {"a": 10, "b": 3}
