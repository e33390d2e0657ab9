"""Replay primers that survive a daemon restart.

A session restored by replay (store/restore.py) sends its structured replay ahead of the next user message. That
text lived only in the session's control state, so a daemon restart between `sessions/resume` and the next
`sessions/prompt` lost it and the agent answered without its history. Now the restore also notes, in
`store-primers.json` in the state dir, which events the replay covers (`after`: the last sequence before the
restore) and its caps; the text is rebuilt from the journal when needed (the same events and caps give the same
text), and the note is dropped once a turn started after the restore (the journal says so; that turn carried it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson

from ..schema.store import ReplayCaps

log = logging.getLogger(__name__)

PRIMERS_FILE = "store-primers.json"


class Primers:
    """session_id -> {"after": last sequence the replay covers, "caps": ReplayCaps as JSON}, kept in a small file."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / PRIMERS_FILE
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            data = {}
        self.notes: dict[str, dict[str, Any]] = data if isinstance(data, dict) else {}

    def remember(self, session_id: str, after: int, caps: ReplayCaps) -> None:
        self.notes[session_id] = {"after": after, "caps": caps.model_dump(mode="json")}
        self._save()

    def forget(self, session_id: str) -> None:
        if self.notes.pop(session_id, None) is not None:
            self._save()

    def _save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(orjson.dumps(self.notes))
        tmp.replace(self.path)


_open: dict[str, Primers] = {}


def primers_for(state_dir: Path) -> Primers:
    """One Primers per state dir in this process (the restore and the API share it)."""
    key = os.path.abspath(state_dir)  # no syscall per message (resolve() would stat the path)
    primers = _open.get(key)
    if primers is None:
        primers = _open[key] = Primers(state_dir)
    return primers


def _turn_after(session: Any, after: int) -> bool:
    """A turn started after sequence `after` (the one that carried the replay)."""
    journal = session.journal
    if journal is not None:
        body = journal.last_of_types(session.session_id, ("turn.started",))
        return body is not None and int(orjson.loads(body)["sequence"]) > after
    from ..sessions.control import events_of

    return any(e["type"] == "turn.started" and e["sequence"] > after for e in events_of(session))


def rearm(primers: Primers, session: Any, control: Any) -> bool:
    """Before a message is sent: give `control` the replay its session still owes the agent (after a restart the
    control state is new and has none). True when it was armed here. Costs a dict lookup unless a note exists."""
    note = primers.notes.get(session.session_id)
    if note is None:
        return False
    if control.replay is not None:
        return False  # armed in this process by the restore itself
    after = int(note.get("after", 0))
    if _turn_after(session, after):
        primers.forget(session.session_id)  # sent before the restart
        return False
    from ..sessions.control import events_of
    from .replay import build_replay

    try:
        caps = ReplayCaps.model_validate(note.get("caps") or {})
    except ValueError:
        caps = ReplayCaps()
    text = build_replay(list(events_of(session, upto=after)), caps)
    if not text:
        primers.forget(session.session_id)
        return False
    control.replay = text
    log.info("store: the replay of %s is sent with its next message (kept across a restart)", session.session_id)
    return True


def settle(primers: Primers, session_id: str, control: Any) -> None:
    """After a message was sent: once the replay went out (the control holds none), the note is done."""
    if session_id in primers.notes and control.replay is None:
        primers.forget(session_id)
