"""Sessions that exist only in the store, for a daemon whose state dir is new (a replacement sandbox).

On a miss (`sessions/get|events|subscribe|resume` of an unknown id) the session's record and events are imported
from the store into the local journal, after which it is an ordinary ended session. `sessions/resume` continues
it: natively when the store has a snapshot of the agent's native state (put back before the agent starts), else
as a fresh native session whose next message carries a structured, bounded replay of the transcript. Either way
the new `session.started` says `{resumed: true, restored: true|false}`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ..schema.store import ReplayCaps
from .reader import Store, StoreError
from .replay import build_replay
from .snapshots import FORMAT, extract

log = logging.getLogger(__name__)

IMPORTED_FILE = "store-imported.json"  # sessions imported here and not resumed yet (they need a restore)


class StoreSessions:
    def __init__(self, url: str, state_dir: Path, reachable: Callable[[], bool] = lambda: True) -> None:
        self.store = Store(url, connect_timeout=3)  # a lookup must not hang long on a store that is away
        self.reachable = reachable  # the shipper's view: while the store is down, sessions/list does not wait on it
        self.state_dir = state_dir
        self.agents_dir = state_dir / "agents"
        self._importing: dict[str, asyncio.Future[None]] = {}
        self._marks = state_dir / IMPORTED_FILE
        try:
            self.imported: set[str] = set(orjson.loads(self._marks.read_bytes()))
        except (OSError, orjson.JSONDecodeError, TypeError):
            self.imported = set()

    def close(self) -> None:
        self.store.close()

    def _save_marks(self) -> None:
        tmp = self._marks.with_name(self._marks.name + ".tmp")
        tmp.write_bytes(orjson.dumps(sorted(self.imported)))
        tmp.replace(self._marks)

    # import on a miss

    async def import_session(self, manager: Any, session_id: str) -> None:
        running = self._importing.get(session_id)
        if running is not None:  # a concurrent call for the same session waits for the same import
            await asyncio.shield(running)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._importing[session_id] = fut
        try:
            await self._import(manager, session_id)
        finally:
            del self._importing[session_id]
            fut.set_result(None)

    async def _import(self, manager: Any, session_id: str) -> None:
        try:
            found = await asyncio.to_thread(self._fetch, session_id)
        except StoreError as exc:
            log.warning("store: cannot look up %s: %s", session_id, exc)
            return
        if found is None or manager.known(session_id):
            return
        record, events = found
        session = manager.adopt(record, events)
        self.imported.add(session_id)
        self._save_marks()
        await session.log.wait_visible(session.log.last_seq)
        log.info("store: imported session %s (%d events) from the store", session_id, len(events))

    def _fetch(self, session_id: str) -> tuple[dict[str, Any], list[tuple[int, str, bytes]]] | None:
        stored = self.store.session(session_id)
        if stored is None:
            return None
        events: list[tuple[int, str, bytes]] = []
        while True:
            page = self.store.raw_events(session_id, len(events), 5000)
            for body in page:
                event = orjson.loads(body)
                if event["sequence"] != len(events) + 1:  # a hole: keep the gap-free beginning only
                    log.warning("store: %s has a gap at sequence %d; importing up to it", session_id, len(events))
                    return stored.record, events
                events.append((event["sequence"], event["type"], body))
            if len(page) < 5000:
                return stored.record, events

    # sessions/list

    async def infos(self, local: set[str]) -> list[Any]:
        """SessionInfo of every store session this daemon does not hold (ended, as seen from here)."""
        from ..schema.methods import SessionInfo

        if not self.reachable():
            return []
        try:
            stored = await asyncio.to_thread(self.store.sessions)
        except StoreError as exc:
            log.warning("store: cannot list sessions: %s", exc)
            return []
        out = []
        for s in stored:
            if s.session_id in local:
                continue
            r = s.record
            ended = r.get("ended") or {
                "reason": "terminated",
                "terminated_by": "daemon",
                "message": "in the store only; resume it to continue here",
            }
            out.append(
                SessionInfo(
                    session_id=s.session_id,
                    agent=s.agent,
                    status="ended",
                    created_at=r.get("created_at") or s.created_at,
                    cwd=r.get("cwd") or "",
                    model=r.get("model"),
                    agent_mode=r.get("agent_mode"),
                    permission_mode=r.get("permission_mode") or "default",
                    native_session_id=r.get("native_session_id"),
                    event_count=s.last_sequence,
                    ended=ended,
                )
            )
        return out

    # sessions/resume

    async def before_resume(self, manager: Any, session: Any, config: Any, caps: Any) -> None:
        """For a session imported from the store: put its native state back, or arrange a replay."""
        sid = session.session_id
        if sid not in self.imported:
            return  # its native state is here (it ran in this sandbox)
        restored = False
        native_id = session.record.native_session_id
        if native_id:
            try:
                snap = await asyncio.to_thread(self.store.snapshot, sid)
            except StoreError as exc:
                log.warning("store: cannot read the snapshot of %s: %s", sid, exc)
                snap = None
            if snap is not None and snap["native_session_id"] == native_id and snap["format"] == FORMAT:
                count = await asyncio.to_thread(extract, self.agents_dir, snap["data"])
                restored = count > 0 and await self._load(manager, session, config)
        how = "native" if restored else "replay"
        if not restored:
            config.resume_native_id = None  # a fresh native session: the replay carries the history
            from ..sessions.control import control_of, events_of

            if not isinstance(caps, ReplayCaps):
                caps = ReplayCaps.model_validate(caps or {})
            replay = build_replay(list(events_of(session)), caps)
            if replay:
                control_of(session, manager.driver(session.record.agent)).replay = replay
                from .primers import primers_for  # noted on disk: a daemon restart before the next message keeps it

                primers_for(self.state_dir).remember(sid, session.log.visible_seq, caps)
        session.started_extra = {
            "resumed": True,
            "restored": restored,
            "metadata": {"resumed": True, "restored": restored, "restore": how},
        }
        self.imported.discard(sid)
        self._save_marks()
        log.info("store: resuming %s in this sandbox by %s", sid, how)

    async def _load(self, manager: Any, session: Any, config: Any) -> bool:
        """An agent whose snapshot is not just its files (OpenCode: one session out of a shared database) loads it
        through its driver's `load_snapshot(config)`; when that fails the session is restored by replay."""
        load = getattr(manager.driver(session.record.agent), "load_snapshot", None)
        if load is None:
            return True
        try:
            return bool(await load(config))
        except Exception as exc:
            agent, sid = session.record.agent, session.session_id
            log.warning("store: %s could not load the snapshot of %s: %s", agent, sid, exc)
            return False
