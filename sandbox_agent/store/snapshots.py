"""Native state snapshots: the files an agent keeps about one native session, as a compressed tar.

Agents keep a session's native state in files named by its native id, under the daemon's agent state folder:
the mock's `.mock/<id>.json`, Claude's `<session>/claude/projects/<cwd>/<id>.jsonl`, Codex's
`.codex-<key>/codex/sessions/.../rollout-...-<id>.jsonl`, Amp's `<session>/amp/home/.local/share/amp/threads/
<id>.json`. Paths are kept relative to that folder, which has the same layout in every daemon, so a fresh sandbox
can put them back and resume natively. OpenCode keeps all sessions of a server in one SQLite database: its snapshot
holds the one session in `opencode export` format (native_opencode.py) at `<session>/opencode-export/<id>.json`,
which the OpenCode driver loads with `opencode import` before resuming.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

from .native_opencode import export_path, export_session

SNAPSHOT_AGENTS = frozenset({"mock", "claude", "codex", "opencode", "amp"})
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024  # files beyond this are not snapshotted (the replay covers the session)
FORMAT = "tar.gz/v1"


def _gzip(buf: io.BytesIO) -> gzip.GzipFile:
    # mtime 0: unchanged files give the same bytes, so the snapshotter's digest skips storing them again
    return gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0)


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


def collect(agents_dir: Path, session_id: str, native_id: str, agent: str = "") -> bytes | None:
    if agent == "opencode":
        return _collect_opencode(agents_dir, session_id, native_id)
    files = native_files(agents_dir, session_id, native_id)
    if not files or sum(f.stat().st_size for f in files if f.exists()) > MAX_SNAPSHOT_BYTES:
        return None
    buf = io.BytesIO()
    with _gzip(buf) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for f in files:
            try:
                tar.add(str(f), arcname=str(f.relative_to(agents_dir)), recursive=False)
            except (FileNotFoundError, ValueError):
                continue  # deleted meanwhile
    return buf.getvalue()


def _collect_opencode(agents_dir: Path, session_id: str, native_id: str) -> bytes | None:
    data = export_session(agents_dir, native_id)
    if data is None or len(data) > MAX_SNAPSHOT_BYTES:
        return None
    member = tarfile.TarInfo(str(export_path(Path(session_id), native_id)))
    member.size = len(data)
    member.mode = 0o600
    buf = io.BytesIO()
    with _gzip(buf) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        tar.addfile(member, io.BytesIO(data))  # no mtime: the same session gives the same archive (digest)
    return buf.getvalue()


def extract(agents_dir: Path, data: bytes) -> int:
    """Put a snapshot's files back (never outside agents_dir); returns how many."""
    agents_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        tar.extractall(agents_dir, members=members, filter="data")  # "data" refuses absolute paths and ..
    return len(members)
