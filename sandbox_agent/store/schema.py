"""The store's PostgreSQL schema, as numbered migrations applied once each under an advisory lock."""

from __future__ import annotations

from typing import Any

# Every daemon of a fleet migrates on connect; the lock makes the first one do it and the others wait and see.
ADVISORY_LOCK = 0x5A_5A_0014

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "sessions and events",
        """
CREATE TABLE sessions (
  session_id text PRIMARY KEY,
  daemon_id text NOT NULL,
  agent text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  ended boolean NOT NULL DEFAULT false,
  record jsonb NOT NULL
);
CREATE INDEX sessions_created_at ON sessions (created_at);
CREATE INDEX sessions_agent ON sessions (agent, created_at);
CREATE INDEX sessions_daemon ON sessions (daemon_id, created_at);
CREATE TABLE events (
  session_id text NOT NULL,
  sequence bigint NOT NULL,
  daemon_id text NOT NULL,
  agent text NOT NULL,
  type text NOT NULL,
  time timestamptz NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now(),
  body json NOT NULL,
  PRIMARY KEY (session_id, sequence)
);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_agent_time ON events (agent, time);
""",
    ),
    (
        2,
        "native state snapshots",
        """
CREATE TABLE snapshots (
  session_id text PRIMARY KEY,
  agent text NOT NULL,
  native_session_id text,
  sequence bigint NOT NULL,
  daemon_id text NOT NULL,
  taken_at timestamptz NOT NULL DEFAULT now(),
  format text NOT NULL,
  data bytea NOT NULL
);
""",
    ),
]
# `body` is `json`, not `jsonb`: it keeps each event byte for byte as the daemon sent it (an audit record), and
# jsonb refuses the \u0000 escape that command output can carry, which would wedge the outbox on one row.

LATEST = MIGRATIONS[-1][0]


class SchemaTooNew(RuntimeError):
    pass


def current_version(conn: Any) -> int:
    """0 when the database has no store yet."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0])


def migrate(conn: Any) -> int:
    """Bring the schema to LATEST (idempotent, safe for many daemons at once); returns the version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        version = current_version(conn)
        if version > LATEST:
            raise SchemaTooNew(
                f"the store's schema is version {version}, newer than this sandbox-agent understands ({LATEST}); "
                "upgrade sandbox-agent"
            )
        for number, description, sql in MIGRATIONS:
            if number <= version:
                continue
            conn.execute(sql)
            conn.execute("INSERT INTO schema_version (version, description) VALUES (%s, %s)", (number, description))
            version = number
    return version
