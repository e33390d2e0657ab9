"""OpenCode's native state for a snapshot: one session out of its SQLite storage, in `opencode export` format.

OpenCode (1.18) keeps every session of a server in one `opencode.db` under the server's home
(`agents/.opencode-<key>/home/.local/share/opencode/`), shared with the other sessions of that server, so the
database file itself cannot be the snapshot. Instead the snapshot carries the session the way `opencode export`
prints it — `{info, messages: [{info, parts}]}` — and a replacement sandbox loads it with `opencode import`
(agents/opencode/driver.py). We read the database here (read-only, from the snapshot thread) instead of running
`opencode export`, which costs ~2 s and ~1.6 s of CPU per call (measured on 1.18.33); tests/test_store_agents.py
checks that both give the same JSON.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

DB_GLOB = ".opencode-*/home/.local/share/opencode/opencode.db"


def export_path(session_dir: Path, native_id: str) -> Path:
    """Where a restored export waits for `opencode import` (inside the session's own folder)."""
    return session_dir / "opencode-export" / f"{native_id}.json"


def _json(text: str | None) -> Any:
    return orjson.loads(text) if text else None


def _info(row: sqlite3.Row) -> dict[str, Any]:
    """The session row as OpenCode's Session.Info (what `opencode export` prints as `info`)."""
    info: dict[str, Any] = {"id": row["id"], "slug": row["slug"], "projectID": row["project_id"]}
    if row["workspace_id"]:
        info["workspaceID"] = row["workspace_id"]
    info["directory"] = row["directory"]
    if row["parent_id"]:
        info["parentID"] = row["parent_id"]
    if row["path"] is not None:
        info["path"] = row["path"]
    info["title"] = row["title"]
    if row["agent"]:
        info["agent"] = row["agent"]
    if row["model"]:
        info["model"] = _json(row["model"])
    info["version"] = row["version"]
    if row["share_url"]:
        info["share"] = {"url": row["share_url"]}
    if any(row[k] is not None for k in ("summary_additions", "summary_deletions", "summary_files")):
        summary: dict[str, Any] = {
            "additions": row["summary_additions"] or 0,
            "deletions": row["summary_deletions"] or 0,
            "files": row["summary_files"] or 0,
        }
        if row["summary_diffs"]:
            summary["diffs"] = _json(row["summary_diffs"])
        info["summary"] = summary
    for column, key in (("metadata", "metadata"), ("revert", "revert"), ("permission", "permission")):
        if row[column]:
            info[key] = _json(row[column])
    info["cost"] = row["cost"]
    info["tokens"] = {
        "input": row["tokens_input"],
        "output": row["tokens_output"],
        "reasoning": row["tokens_reasoning"],
        "cache": {"read": row["tokens_cache_read"], "write": row["tokens_cache_write"]},
    }
    time: dict[str, Any] = {"created": row["time_created"], "updated": row["time_updated"]}
    for column, key in (("time_compacting", "compacting"), ("time_archived", "archived")):
        if row[column] is not None:
            time[key] = row[column]
    info["time"] = time
    return info


def _export_from(db: Path, native_id: str) -> bytes | None:
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True, timeout=5)
    try:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM session WHERE id = ?", (native_id,)).fetchone()
        if row is None:
            return None
        parts: dict[str, list[dict[str, Any]]] = {}
        for p in conn.execute(
            "SELECT id, message_id, data FROM part WHERE session_id = ? ORDER BY message_id, id", (native_id,)
        ):
            parts.setdefault(p["message_id"], []).append(
                {**orjson.loads(p["data"]), "id": p["id"], "sessionID": native_id, "messageID": p["message_id"]}
            )
        messages = [
            {
                "info": {**orjson.loads(m["data"]), "id": m["id"], "sessionID": native_id},
                "parts": parts.get(m["id"], []),
            }
            for m in conn.execute("SELECT id, data FROM message WHERE session_id = ? ORDER BY id", (native_id,))
        ]
        return orjson.dumps({"info": _info(row), "messages": messages})
    finally:
        conn.close()


def export_session(agents_dir: Path, native_id: str) -> bytes | None:
    """The session in `opencode export` format, from whichever server home holds it; None when none does."""
    if not native_id.startswith("ses_"):
        return None
    for db in sorted(agents_dir.glob(DB_GLOB)):
        try:
            found = _export_from(db, native_id)
        except (sqlite3.Error, orjson.JSONDecodeError, KeyError, IndexError):
            continue  # another version's layout, or a database being created: the replay covers the session
        if found is not None:
            return found
    return None
