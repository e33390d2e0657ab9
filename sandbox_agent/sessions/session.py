"""One session: the state machine (idle, running, awaiting_input, ended) driven by the session's own events.

Every event an adapter emits passes through `Session.emit`, which numbers it, stores it and updates the state,
so the invariants hold for every agent alike: a turn is bracketed by turn.started/turn.ended, pending requests
never outlive their turn, and session.ended is the last event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import BaseModel

from ..agents.base import AgentSession
from ..ops.stats import STATS
from ..ops.usage import UsageLedger, session_totals
from ..rpc.errors import AppError
from ..schema.content import FilePart, FileRefPart, ImagePart, InputPart, TextPart
from ..schema.errors import ErrorKind
from ..schema.events import (
    ErrorData,
    ItemData,
    PermissionData,
    QuestionData,
    SessionEndedData,
    SessionStartedData,
    TurnEndedData,
    TurnStartedData,
)
from ..schema.items import UniversalItem
from ..schema.methods import PendingPermission, PermissionReply, SessionInfo, SessionStatus
from .clock import new_id, now_rfc3339
from .event_log import EventLog
from .hitl import HitlRegistry
from .journal import Journal
from .record import SessionRecord

log = logging.getLogger(__name__)

_REPLY_STATUS = {"once": "accept", "always": "accept_for_session", "reject": "reject"}
_RESOLVED_MEMORY = 256  # recently resolved request ids, to tell a late answer "already resolved"
TIMEOUT_MESSAGE = "Nobody answered this request within {seconds:g} seconds, so it was rejected automatically."


class TurnWaiter:
    """Collects one turn's final assistant text for `sessions/prompt`."""

    def __init__(self, turn_id: str) -> None:
        self.turn_id = turn_id
        self.texts: list[str] = []
        self.done: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.end_seq = 0  # the sequence of this turn's turn.ended


class Session:
    def __init__(
        self, record: SessionRecord, log_: EventLog, journal: Journal | None, hitl_timeout_s: float | None = None
    ) -> None:
        self.record = record
        self.log = log_
        self.journal = journal
        self.adapter: AgentSession | None = None
        self.hitl = HitlRegistry()
        self.hitl_timeout_s = record.hitl_timeout_s or hitl_timeout_s
        self._claimed: set[str] = set()  # requests being answered right now: the first answer wins
        self._resolved: OrderedDict[str, None] = OrderedDict()
        self._hitl_timers: dict[str, asyncio.TimerHandle] = {}
        self.current_turn: str | None = None
        self._turn_t0 = 0.0  # monotonic start of the running turn, for its duration
        self.usage = UsageLedger(backfill_upto=log_.last_seq)  # a restored session reads its past turns once
        self._waiters: dict[str, TurnWaiter] = {}
        self._terminating = False
        self._ended = asyncio.Event()
        self._settled = asyncio.Event()  # set once start() has succeeded or failed
        # set by the manager when the agent can resume: a send after a crash or restart continues the session
        self.auto_resume: Callable[[], Awaitable[object]] | None = None
        # sessions/control.py: called when a turn ends or the agent (re)starts, to run queued messages
        self.on_idle: Callable[[], None] | None = None
        self.started_extra: dict[str, Any] = {}  # fields for the next session.started (a fork's origin)
        self.control: Any = None  # its SessionControl (sessions/control.py), made on first use
        self.last_used = time.monotonic()  # by API calls and its own end: the manager parks it when long unused
        if record.ended is not None:
            self._ended.set()
            self._settled.set()

    # identity and state

    @property
    def session_id(self) -> str:
        return self.record.session_id

    @property
    def ended(self) -> bool:
        return self.record.ended is not None

    @property
    def status(self) -> SessionStatus:
        if self.ended:
            return "ended"
        if self.hitl:
            return "awaiting_input"
        return "running" if self.current_turn else "idle"

    def info(self) -> SessionInfo:
        r = self.record
        return SessionInfo(
            session_id=r.session_id,
            agent=r.agent,
            status=self.status,
            created_at=r.created_at,
            cwd=r.cwd,
            model=r.model,
            agent_mode=r.agent_mode,
            permission_mode=r.permission_mode,
            native_session_id=r.native_session_id,
            event_count=self.log.last_seq,
            current_turn_id=self.current_turn,
            pending_permissions=[
                PendingPermission(permission_id=p.permission_id, action=p.action, metadata=p.metadata)
                for p in self.hitl.permissions.values()
            ],
            pending_questions=list(self.hitl.questions.values()),
            ended=r.ended,
            usage=session_totals(self),
        )

    def persist(self) -> None:
        if self.journal is not None:
            self.journal.put_session(self.session_id, self.record.model_dump(mode="json"))

    # the EventSink side, used by adapters

    def set_native_session_id(self, native_id: str) -> None:
        if self.record.native_session_id != native_id:
            self.record.native_session_id = native_id
            self.persist()

    def emit(
        self,
        type_: str,
        data: BaseModel,
        *,
        synthetic: bool = False,
        raw: Any = None,
        source: str = "agent",
    ) -> None:
        if self.ended:
            log.debug("%s: dropped %s after session.ended", self.session_id, type_)
            return
        if type_ == "turn.ended":
            if not isinstance(data, TurnEndedData) or data.turn_id != self.current_turn:
                log.debug("%s: ignored turn.ended for a turn that is not running", self.session_id)
                return
            self._settle_hitl("turn ended")
        elif type_ == "session.ended":
            assert isinstance(data, SessionEndedData)
            if self._terminating:
                data = data.model_copy(update={"reason": "terminated", "terminated_by": "daemon"})
            self._close_turn("error")
            self._settle_hitl("session ended")
        elif type_ in _HITL_TYPES and not self._hitl_transition(type_, data):
            return
        self._append(type_, data, synthetic, raw, source)
        self._observe(type_, data)

    def _hitl_transition(self, type_: str, data: BaseModel) -> bool:
        """Exactly one *.resolved per *.requested, whoever reports it first (our reply, the agent, a timeout)."""
        if isinstance(data, PermissionData):
            pending: dict[str, Any] = self.hitl.permissions
            request_id = data.permission_id
        elif isinstance(data, QuestionData):
            pending = self.hitl.questions
            request_id = data.question_id
        else:
            return True
        if type_.endswith(".requested"):
            return request_id not in pending
        if request_id not in pending:
            log.debug("%s: dropped a second resolution of %s", self.session_id, request_id)
            return False
        return True

    def _append(self, type_: str, data: BaseModel, synthetic: bool, raw: Any, source: str) -> None:
        seq = self.log.last_seq + 1
        event: dict[str, Any] = {
            "event_id": new_id("evt_"),
            "sequence": seq,
            "time": now_rfc3339(),
            "session_id": self.session_id,
            "source": source,
            "synthetic": synthetic,
            "type": type_,
            # pydantic-core writes the data's JSON in Rust; orjson splices those bytes in without re-parsing.
            "data": orjson.Fragment(data.__pydantic_serializer__.to_json(data, exclude_none=True)),
        }
        if self.record.native_session_id is not None:
            event["native_session_id"] = self.record.native_session_id
        if raw is not None and self.record.include_raw:
            event["raw"] = raw
        # orjson's result keeps a 4 KiB allocation however short the JSON; kept events get an exact-size copy
        # (measured: 4 KiB -> ~0.5 KiB of heap per event held in memory).
        self.log.append(seq, type_, memoryview(orjson.dumps(event)).tobytes())

    def _observe(self, type_: str, data: BaseModel) -> None:
        if type_ in ("item.completed",):
            assert isinstance(data, ItemData)
            item = data.item
            if item.kind == "message" and item.role == "assistant" and self.current_turn in self._waiters:
                self._waiters[self.current_turn].texts.extend(p.text for p in item.content if isinstance(p, TextPart))
        elif type_.startswith(("permission.", "question.")):
            assert isinstance(data, PermissionData | QuestionData)
            self.hitl.observe(type_, data)
            request_id = data.permission_id if isinstance(data, PermissionData) else data.question_id
            if type_.endswith(".requested"):
                self._arm_timeout(request_id)
                STATS.hitl_requested(self.session_id, type_.partition(".")[0], request_id)
            else:
                STATS.hitl_resolved(self.session_id, request_id, data.reason or data.status)
                self._claimed.discard(request_id)
                timer = self._hitl_timers.pop(request_id, None)
                if timer is not None:
                    timer.cancel()
                self._resolved[request_id] = None
                if len(self._resolved) > _RESOLVED_MEMORY:
                    self._resolved.popitem(last=False)
        elif type_ == "turn.started":
            self.log.idle = False
        elif type_ == "turn.ended":
            assert isinstance(data, TurnEndedData)
            self.current_turn = None
            self.log.idle = True
            self.usage.add(data.usage)
            t0, self._turn_t0 = self._turn_t0, 0.0
            if t0:  # a turn this process started (not one closed while restoring)
                r = self.record
                STATS.turn_ended(r.agent, r.model, data.stop_reason, time.monotonic() - t0, data.usage)
            waiter = self._waiters.pop(data.turn_id, None)
            if waiter is not None and not waiter.done.done():
                waiter.end_seq = self.log.last_seq
                waiter.done.set_result(data.stop_reason)
            if self.on_idle is not None:
                self.on_idle()
        elif type_ == "session.ended":
            assert isinstance(data, SessionEndedData)
            if data.reason == "error" and data.terminated_by == "agent":
                STATS.agent_crashed(self.record.agent)
            self.record.ended = data
            self.last_used = time.monotonic()
            self.persist()
            self._ended.set()
            self._settled.set()  # nothing is starting any more: calls waiting on a start see the end instead
            self.log.idle = True
            # The agent is gone: let go of its adapter (translator maps, stderr buffers); a resume makes a new one.
            self.adapter = None
            self.log.close_subscribers()

    def _close_turn(self, stop_reason: str) -> None:
        if self.current_turn is not None:
            self.emit(
                "turn.ended",
                TurnEndedData(turn_id=self.current_turn, stop_reason=stop_reason),  # type: ignore[arg-type]
                synthetic=True,
                source="daemon",
            )

    def _settle_hitl(self, why: str) -> None:
        """Nothing dangles: requests still pending when their turn or session ends are resolved as rejected."""
        for p in list(self.hitl.permissions.values()):
            self.emit(
                "permission.resolved",
                p.model_copy(update={"status": "reject", "message": why}),
                synthetic=True,
                source="daemon",
            )
        for q in list(self.hitl.questions.values()):
            self.emit(
                "question.resolved",
                q.model_copy(update={"status": "rejected"}),
                synthetic=True,
                source="daemon",
            )

    # the API side

    async def start(self, adapter: AgentSession) -> None:
        self.adapter = adapter
        r = self.record
        self.emit(
            "session.started",
            SessionStartedData(
                metadata={
                    "agent": r.agent,
                    "cwd": r.cwd,
                    "model": r.model,
                    "agent_mode": r.agent_mode,
                    "permission_mode": r.permission_mode,
                    "resumed": adapter.config.resume_native_id is not None,
                    **self.started_extra.pop("metadata", {}),
                },
                **self.started_extra,
            ),
            source="daemon",
        )
        self.started_extra = {}
        STATS.agent_started(r.agent, adapter.config.resume_native_id is not None)
        self._settled.clear()
        try:
            await adapter.start()
        finally:
            self._settled.set()
        if self.on_idle is not None and not self.ended:
            self.on_idle()

    async def _require_live(self) -> AgentSession:
        # Calls pipelined right behind sessions/create wait for the agent to be up instead of failing.
        await self._settled.wait()
        if self.ended or self.adapter is None:
            raise AppError(ErrorKind.SESSION_ENDED, f"session {self.session_id} has ended", session_id=self.session_id)
        return self.adapter

    async def send_message(self, parts: list[InputPart], turn_id: str | None = None) -> TurnWaiter:
        await self._settled.wait()
        if self.ended and self.auto_resume is not None and not self.record.closed_by_client:
            await self.auto_resume()
        adapter = await self._require_live()
        if self.current_turn is not None:
            raise AppError(
                ErrorKind.SESSION_BUSY,
                f"session {self.session_id} is running turn {self.current_turn}; interrupt it or wait",
                session_id=self.session_id,
                turn_id=self.current_turn,
            )
        turn_id = turn_id or f"turn_{self.log.last_seq + 1}"  # queued and steered messages bring their own
        waiter = TurnWaiter(turn_id)
        self._waiters[turn_id] = waiter
        self.current_turn = turn_id
        self._turn_t0 = time.monotonic()
        STATS.turn_started(self.record.agent)
        self.emit("turn.started", TurnStartedData(turn_id=turn_id), source="daemon")
        item = UniversalItem(
            item_id=new_id("itm_"),
            kind="message",
            role="user",
            status="completed",
            content=_user_content(parts),
        )
        self.emit("item.started", ItemData(item=item.model_copy(update={"status": "in_progress"})), source="daemon")
        self.emit("item.completed", ItemData(item=item), source="daemon")
        try:
            await adapter.send(turn_id, parts)
        except AppError:
            self._close_turn("error")
            raise
        except Exception as exc:
            log.exception("%s: agent refused the message", self.session_id)
            self.emit("error", ErrorData(message=f"could not deliver the message: {exc}"), source="daemon")
            self._close_turn("error")
            raise AppError(ErrorKind.AGENT_ERROR, f"the agent could not take the message: {exc}") from None
        return waiter

    async def wait_turn(self, waiter: TurnWaiter, timeout: float | None) -> str | None:
        try:
            async with asyncio.timeout(timeout):
                stop_reason = await asyncio.shield(waiter.done)
                # Read your writes: the whole turn is committed and readable before the caller hears it ended.
                await self.log.wait_visible(waiter.end_seq)
                return stop_reason
        except TimeoutError:
            raise AppError(
                ErrorKind.TIMEOUT,
                f"turn {waiter.turn_id} still running after {timeout}s",
                turn_id=waiter.turn_id,
            ) from None

    async def interrupt(self) -> bool:
        adapter = await self._require_live()
        if self.current_turn is None:
            return False
        await adapter.interrupt()
        return True

    async def reply_permission(self, permission_id: str, reply: PermissionReply, message: str | None) -> None:
        adapter = await self._require_live()
        pending = self.hitl.permissions.get(permission_id)
        self._claim(permission_id, pending is not None, "permission")
        assert pending is not None
        try:
            await adapter.reply_permission(permission_id, reply, message)
        finally:
            self._claimed.discard(permission_id)
        if permission_id in self.hitl.permissions:
            self.emit(
                "permission.resolved",
                pending.model_copy(update={"status": _REPLY_STATUS[reply], "message": message}),
                source="daemon",
            )

    async def reply_question(self, question_id: str, answers: list[list[str]] | None) -> None:
        adapter = await self._require_live()
        pending = self.hitl.questions.get(question_id)
        self._claim(question_id, pending is not None, "question")
        assert pending is not None
        try:
            await adapter.reply_question(question_id, answers)
        finally:
            self._claimed.discard(question_id)
        if question_id in self.hitl.questions:
            update = {"status": "answered", "response": answers} if answers is not None else {"status": "rejected"}
            self.emit("question.resolved", pending.model_copy(update=update), source="daemon")

    def _claim(self, request_id: str, is_pending: bool, what: str) -> None:
        """The first answer wins; a later or concurrent one is told the request is already resolved."""
        if request_id in self._claimed or (not is_pending and request_id in self._resolved):
            raise AppError(
                ErrorKind.ALREADY_RESOLVED,
                f"{what} {request_id} in session {self.session_id} was already answered",
                session_id=self.session_id,
                **{f"{what}_id": request_id},
            )
        if not is_pending:
            kind = ErrorKind.PERMISSION_NOT_FOUND if what == "permission" else ErrorKind.QUESTION_NOT_FOUND
            message = f"no pending {what} {request_id} in session {self.session_id}"
            raise AppError(kind, message, **{f"{what}_id": request_id})
        self._claimed.add(request_id)

    # HITL policy: reject what nobody answers in time, so the turn goes on

    def _arm_timeout(self, request_id: str) -> None:
        if not self.hitl_timeout_s:
            return
        loop = asyncio.get_running_loop()
        self._hitl_timers[request_id] = loop.call_later(
            self.hitl_timeout_s, lambda: asyncio.ensure_future(self._expire(request_id))
        )

    async def _expire(self, request_id: str) -> None:
        self._hitl_timers.pop(request_id, None)
        if request_id in self._claimed or self.adapter is None or self.ended:
            return
        message = TIMEOUT_MESSAGE.format(seconds=self.hitl_timeout_s)
        permission = self.hitl.permissions.get(request_id)
        question = self.hitl.questions.get(request_id)
        if permission is None and question is None:
            return
        self._claimed.add(request_id)
        try:
            # Journal the daemon's decision first, so it is the one resolution even if the agent echoes it.
            if permission is not None:
                update = {"status": "reject", "message": message, "reason": "timeout"}
                self.emit("permission.resolved", permission.model_copy(update=update), source="daemon")
                await self.adapter.reply_permission(request_id, "reject", message)
            elif question is not None:
                update = {"status": "rejected", "reason": "timeout"}
                self.emit("question.resolved", question.model_copy(update=update), source="daemon")
                await self.adapter.reply_question(request_id, None)
        except Exception as exc:
            log.warning("%s: could not deliver the timeout rejection of %s: %s", self.session_id, request_id, exc)
        finally:
            self._claimed.discard(request_id)

    async def terminate(self, message: str = "terminated by request") -> None:
        if self.ended:
            return
        self._terminating = True
        if self.adapter is not None:
            try:
                await self.adapter.terminate()
            except Exception:
                log.exception("%s: error while stopping the agent", self.session_id)
        if not self.ended:
            self.emit(
                "session.ended",
                SessionEndedData(reason="terminated", terminated_by="daemon", message=message),
                source="daemon",
            )

    async def wait_ended(self) -> None:
        await self._ended.wait()


_HITL_TYPES = frozenset({"permission.requested", "permission.resolved", "question.requested", "question.resolved"})


def _user_content(parts: list[InputPart]) -> list[Any]:
    out: list[Any] = []
    for p in parts:
        if isinstance(p, FilePart):
            out.append(FileRefPart(path=p.path or p.name or "attachment", action="read"))
        elif isinstance(p, ImagePart | TextPart):
            out.append(p)
    return out
