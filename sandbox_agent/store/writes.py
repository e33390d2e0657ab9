"""The two writes every producer shares (the daemon's shipper and client-side recording): idempotent batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

STAGE_EVENTS = (
    "CREATE TEMP TABLE IF NOT EXISTS stage_events (session_id text, sequence bigint, agent text, type text, "
    "time text, body text) ON COMMIT DELETE ROWS"
)
INSERT_STAGED = """
INSERT INTO events (session_id, sequence, daemon_id, agent, type, time, body)
SELECT session_id, sequence, %s, agent, type, time::timestamptz, body::json FROM stage_events
ON CONFLICT (session_id, sequence) DO NOTHING
"""
# COPY into a temporary table, then one INSERT ... ON CONFLICT: measured ~4x the rows/s of a multi-row INSERT
# from unnest(arrays) with the same indexes (56k vs 15k rows/s here; docs/decisions.md).

UPSERT_SESSIONS = """
INSERT INTO sessions (session_id, daemon_id, agent, created_at, ended, record)
SELECT u.s, %s, u.a, u.c::timestamptz, u.e, u.r::jsonb
FROM unnest(%s::text[], %s::text[], %s::text[], %s::bool[], %s::text[]) AS u(s, a, c, e, r)
ON CONFLICT (session_id) DO UPDATE SET
  daemon_id = excluded.daemon_id, agent = excluded.agent, ended = excluded.ended,
  record = excluded.record, updated_at = now()
WHERE sessions.record IS DISTINCT FROM excluded.record OR sessions.daemon_id IS DISTINCT FROM excluded.daemon_id
"""


# A small batch (the live case) in ONE statement and round trip: records and events as JSON text, unpacked by
# PostgreSQL, in the implicit transaction of one autocommit statement. BEGIN, COPY (two round trips), INSERT and
# COMMIT each waited for a busy machine to schedule the client and the server again; one statement cut the shipper's
# lag p99 (docs/decisions.md). Bodies travel as JSON *strings* (`b`, cast to json after unpacking): nested json
# would be de-escaped by json_to_recordset, which refuses \u0000. COPY stays for backlogs, where it is faster.
SHIP_SMALL = """
WITH r AS (
  INSERT INTO sessions (session_id, daemon_id, agent, created_at, ended, record)
  SELECT x.s, %(daemon)s, x.a, x.c::timestamptz, x.e, x.r::jsonb
  FROM json_to_recordset(%(records)s::json) AS x(s text, a text, c text, e boolean, r text)
  ON CONFLICT (session_id) DO UPDATE SET
    daemon_id = excluded.daemon_id, agent = excluded.agent, ended = excluded.ended,
    record = excluded.record, updated_at = now()
  WHERE sessions.record IS DISTINCT FROM excluded.record OR sessions.daemon_id IS DISTINCT FROM excluded.daemon_id
)
INSERT INTO events (session_id, sequence, daemon_id, agent, type, time, body)
SELECT x.s, x.q, %(daemon)s, x.a, x.t, x.w::timestamptz, x.b::json
FROM json_to_recordset(%(events)s::json) AS x(s text, q bigint, a text, t text, w text, b text)
ON CONFLICT (session_id, sequence) DO NOTHING
"""
SMALL_ROWS = 1000  # measured: up to a few hundred rows one statement is faster, at 5,000 COPY is (66k vs 55k rows/s)


@dataclass(slots=True)
class EventRow:
    session_id: str
    sequence: int
    agent: str
    type: str
    time: str  # RFC 3339, as in the event
    body: str  # the event's JSON text


@dataclass(slots=True)
class SessionRow:
    session_id: str
    agent: str
    created_at: str
    ended: bool
    record: str  # JSON text

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SessionRow:
        return cls(
            session_id=str(record["session_id"]),
            agent=str(record.get("agent") or "unknown"),
            created_at=str(record.get("created_at") or "1970-01-01T00:00:00Z"),
            ended=record.get("ended") is not None,
            record=orjson.dumps(record).decode(),
        )


def event_row(session_id: str, sequence: int, agent: str, type_: str, body: bytes | str) -> EventRow:
    text = body if isinstance(body, str) else bytes(body).decode()
    time = orjson.loads(text).get("time") or "1970-01-01T00:00:00Z"
    return EventRow(session_id, sequence, agent, type_, time, text)


def prepare(conn: Any) -> None:
    """Once per connection, before insert_events."""
    conn.execute(STAGE_EVENTS)


def insert_events(cur: Any, daemon_id: str, rows: list[EventRow]) -> int:
    """Rows already there are left as they are; returns how many were new.

    Once per transaction (the staging table empties at commit), on a connection that had `prepare`."""
    if not rows:
        return 0
    with cur.copy("COPY stage_events (session_id, sequence, agent, type, time, body) FROM STDIN") as copy:
        for r in rows:
            copy.write_row((r.session_id, r.sequence, r.agent, r.type, r.time, r.body))
    cur.execute(INSERT_STAGED, (daemon_id,))
    return int(cur.rowcount)


def ship_small(conn: Any, daemon_id: str, records: list[SessionRow], rows: list[EventRow]) -> None:
    """Records and events in one statement (its own transaction): on an autocommit connection, one round trip."""
    events = [{"s": e.session_id, "q": e.sequence, "a": e.agent, "t": e.type, "w": e.time, "b": e.body} for e in rows]
    conn.execute(
        SHIP_SMALL,
        {
            "daemon": daemon_id,
            "records": orjson.dumps(
                [{"s": s.session_id, "a": s.agent, "c": s.created_at, "e": s.ended, "r": s.record} for s in records]
            ).decode(),
            "events": orjson.dumps(events).decode(),
        },
    )


def upsert_sessions(cur: Any, daemon_id: str, rows: list[SessionRow]) -> None:
    if not rows:
        return
    cur.execute(
        UPSERT_SESSIONS,
        (
            daemon_id,
            [r.session_id for r in rows],
            [r.agent for r in rows],
            [r.created_at for r in rows],
            [r.ended for r in rows],
            [r.record for r in rows],
        ),
    )


UPSERT_SNAPSHOT = """
INSERT INTO snapshots (session_id, agent, native_session_id, sequence, daemon_id, format, data)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (session_id) DO UPDATE SET
  agent = excluded.agent, native_session_id = excluded.native_session_id, sequence = excluded.sequence,
  daemon_id = excluded.daemon_id, format = excluded.format, data = excluded.data, taken_at = now()
WHERE snapshots.sequence <= excluded.sequence
"""


def upsert_snapshot(
    cur: Any, daemon_id: str, session_id: str, agent: str, native_id: str, sequence: int, fmt: str, data: bytes
) -> None:
    """The newest snapshot of a session's native state (an older one never replaces a newer one)."""
    cur.execute(UPSERT_SNAPSHOT, (session_id, agent, native_id, sequence, daemon_id, fmt, data))
