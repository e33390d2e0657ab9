"""Native state snapshots: the files an agent keeps about one native session, as a compressed tar.

Agents keep a session's native state in files named by its native id, under the daemon's agent state folder:
the mock's `.mock/<id>.json`, Claude's `<session>/claude/projects/<cwd>/<id>.jsonl`, Codex's
`.codex-<key>/codex/sessions/.../rollout-...-<id>.jsonl`. Paths are kept relative to that folder, which has
the same layout in every daemon, so a fresh sandbox can put them back and resume natively.
OpenCode (one storage database per server) and Amp (threads kept by its service) are restored by replay instead.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

SNAPSHOT_AGENTS = frozenset({"mock", "claude", "codex"})
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024  # files beyond this are not snapshotted (the replay covers the session)
FORMAT = "tar.gz/v1"


def native_files(agents_dir: Path, session_id: str, native_id: str) -> list[Path]:
    """Files under the session's own folder and the shared agent homes whose path names the native id."""
    if not native_id or len(native_id) < 6 or not agents_dir.is_dir():
        return []
    roots = [agents_dir / session_id] + [p for p in agents_dir.iterdir() if p.name.startswith(".") and p.is_dir()]
    found: list[Path] = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in ("node_modules", ".cache", "tmp")]
            if native_id in folder:
                found += [Path(folder) / f for f in files]
            else:
                found += [Path(folder) / f for f in files if native_id in f]
    return sorted(set(found))


def collect(agents_dir: Path, session_id: str, native_id: str) -> bytes | None:
    files = native_files(agents_dir, session_id, native_id)
    if not files or sum(f.stat().st_size for f in files if f.exists()) > MAX_SNAPSHOT_BYTES:
        return None
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:
        for f in files:
            try:
                tar.add(str(f), arcname=str(f.relative_to(agents_dir)), recursive=False)
            except (FileNotFoundError, ValueError):
                continue  # deleted meanwhile
    return buf.getvalue()


def extract(agents_dir: Path, data: bytes) -> int:
    """Put a snapshot's files back (never outside agents_dir); returns how many."""
    agents_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        tar.extractall(agents_dir, members=members, filter="data")  # "data" refuses absolute paths and ..
    return len(members)
