"""Session control while a turn runs: delivery modes (queue, steer), the journaled queue, configure and fork.

Everything here is decided once for every agent; adapters only say what they can do natively (`steer`,
`configure`, `can_fork`). The queue lives in the session's own events (`message.queued` / `message.dequeued`),
so it survives a daemon kill and runs after the session resumes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from ..agents.base import ForkPoint
from ..rpc.errors import AppError
from ..schema.content import InputPart, TextPart
from ..schema.control import (
    ConfigureHow,
    ConfigureParams,
    ConfigureResult,
    ForkHow,
    ForkParams,
    MessageDequeuedData,
    MessageQueuedData,
    MessageSteeredData,
    QueuedMessage,
    SessionConfiguredData,
)
from ..schema.errors import ErrorKind
from ..schema.events import ErrorData, ItemData
from ..schema.items import UniversalItem
from ..schema.methods import SendMessageResult, SessionCreateParams
from .clock import new_id

if TYPE_CHECKING:
    from ..agents.base import AgentDriver
    from .manager import SessionManager
    from .session import Session, TurnWaiter

log = logging.getLogger(__name__)

STEER_INTERRUPT_TIMEOUT = 30.0  # how long a fallback steer waits for the interrupted turn to end
REPLAY_MAX_CHARS = 24_000  # a replayed history is bounded: the newest turns are kept whole
_SCAN_PAGE = 1000


class Sent:
    """What a send did: the API result, and the turn's waiter (now, or once a queued message starts)."""

    def __init__(self, result: SendMessageResult, waiter: asyncio.Future[TurnWaiter]) -> None:
        self.result = result
        self.waiter = waiter


def events_of(session: Session, upto: int | None = None) -> Iterator[dict[str, Any]]:
    """The session's stored events in order (decoded), up to sequence `upto`."""
    after = 0
    last = session.log.visible_seq if upto is None else min(upto, session.log.visible_seq)
    while after < last:
        page = session.log.read(after, min(_SCAN_PAGE, last - after))
        if not page:
            return
        for body in page:
            event = orjson.loads(body)
            after = event["sequence"]
            yield event


def control_of(session: Session, driver: AgentDriver) -> SessionControl:
    """The session's control state, loaded from its events the first time it is needed."""
    # Kept on the session itself: a weak-keyed map whose value points back at its key would keep every session
    # alive for ever.
    control = session.control
    if control is None:
        control = session.control = SessionControl(session, driver)
    return control


class SessionControl:
    """The queue, pending settings and replay state of one session."""

    def __init__(self, session: Session, driver: AgentDriver) -> None:
        self.session = session
        self.driver = driver
        self.queue: list[MessageQueuedData] = []
        self.replay: str | None = None  # a forked-by-replay session's history, sent ahead of its first message
        self._starts: dict[str, asyncio.Future[TurnWaiter]] = {}  # queued message id -> its turn, once started
        self._pending: dict[str, Any] | None = None  # settings waiting for the running turn to end
        self._steering = False
        self._draining = False
        self._idle = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._load()
        session.on_idle = self._on_idle

    # state from the journal

    def _load(self) -> None:
        s = self.session
        first = s.log.read(0, 1)
        if first:
            event = orjson.loads(first[0])
            if event["type"] == "session.started":
                self.replay = (event["data"].get("metadata") or {}).get("replay")
        journal = s.journal
        if journal is None:
            if s.log.last_seq > 1:  # in memory: scan (a session is short-lived without a journal)
                self._scan()
            return
        if self.replay is not None and journal.last_of_types(s.session_id, ("turn.started",)) is not None:
            self.replay = None
        if journal.last_of_types(s.session_id, ("message.queued",)) is not None:
            self._scan()

    def _scan(self) -> None:
        for event in events_of(self.session):
            t = event["type"]
            if t == "message.queued":
                self.queue.append(MessageQueuedData.model_validate(event["data"]))
            elif t == "message.dequeued":
                gone = event["data"]["message_id"]
                self.queue = [m for m in self.queue if m.message_id != gone]
            elif t == "turn.started":
                self.replay = None

    # sending

    async def send(self, parts: list[InputPart], delivery: str) -> Sent:
        s = self.session
        loop = asyncio.get_running_loop()
        if delivery != "reject" and s.ended:
            raise AppError(
                ErrorKind.SESSION_ENDED,
                f"session {s.session_id} has ended: resume it (sessions/resume) before you {delivery} messages",
                session_id=s.session_id,
            )
        busy = s.current_turn is not None or bool(self.queue) or self._steering
        if delivery == "queue" and busy:
            return self._enqueue(parts)
        if delivery == "steer" and s.current_turn is not None and not self._steering:
            return await self._steer(parts)
        if self.queue and not s.ended:
            raise AppError(
                ErrorKind.SESSION_BUSY,
                f"session {s.session_id} has {len(self.queue)} queued message(s) to run first; "
                "send with delivery 'queue' or 'steer'",
                session_id=s.session_id,
                queued=len(self.queue),
            )
        waiter = await self._start_turn(parts, None)
        fut: asyncio.Future[TurnWaiter] = loop.create_future()
        fut.set_result(waiter)
        return Sent(SendMessageResult(turn_id=waiter.turn_id, outcome="started"), fut)

    async def _start_turn(self, parts: list[InputPart], turn_id: str | None) -> TurnWaiter:
        if self.replay is not None:
            prefix, self.replay = self.replay, None
            parts = [TextPart(text=prefix), *parts]
        return await self.session.send_message(parts, turn_id=turn_id)

    def _enqueue(self, parts: list[InputPart]) -> Sent:
        s = self.session
        message_id = new_id("msg_")
        data = MessageQueuedData(
            message_id=message_id, turn_id=f"turn_{message_id}", content=parts, position=len(self.queue) + 1
        )
        self.queue.append(data)
        s.emit("message.queued", data, source="daemon")
        fut: asyncio.Future[TurnWaiter] = asyncio.get_running_loop().create_future()
        self._starts[message_id] = fut
        result = SendMessageResult(
            turn_id=data.turn_id, message_id=message_id, outcome="queued", position=data.position
        )
        self._kick()  # the turn may have ended while we queued
        return Sent(result, fut)

    async def _steer(self, parts: list[InputPart]) -> Sent:
        s = self.session
        adapter = s.adapter
        assert adapter is not None and s.current_turn is not None
        message_id = new_id("msg_")
        running = s.current_turn
        loop = asyncio.get_running_loop()
        self._steering = True
        try:
            try:
                native = await adapter.steer(parts)
            except AppError as exc:
                log.info("%s: native steer refused (%s); interrupting instead", s.session_id, exc.message)
                native = False
            if native:  # delivered, even if the turn ended meanwhile (the agent answers it)
                if s.current_turn == running:
                    self._emit_user_item(parts)
                s.emit(
                    "message.steered",
                    MessageSteeredData(message_id=message_id, turn_id=running, native=True),
                    source="daemon",
                )
                fut: asyncio.Future[TurnWaiter] = loop.create_future()
                waiter = s._waiters.get(running)
                if waiter is None:  # the turn has ended already: nothing more to wait for
                    from .session import TurnWaiter

                    waiter = TurnWaiter(running)
                    waiter.done.set_result(None)
                fut.set_result(waiter)
                return Sent(
                    SendMessageResult(turn_id=running, message_id=message_id, outcome="steered", native=True), fut
                )
            turn_id = f"turn_{message_id}"
            s.emit(
                "message.steered",
                MessageSteeredData(
                    message_id=message_id,
                    turn_id=turn_id,
                    native=False,
                    fallback="interrupt_then_send",
                    interrupted_turn_id=running,
                    note=f"{self.driver.name} cannot take a message mid-turn: the turn was interrupted and the "
                    "message sent as the next turn",
                ),
                source="daemon",
            )
            await self._interrupt_and_wait()
            waiter = await self._start_turn(parts, turn_id)
        finally:
            self._steering = False
        fut = loop.create_future()
        fut.set_result(waiter)
        return Sent(SendMessageResult(turn_id=turn_id, message_id=message_id, outcome="steered", native=False), fut)

    async def _interrupt_and_wait(self) -> None:
        s = self.session
        if s.current_turn is None:
            return
        self._idle.clear()
        await s.interrupt()
        try:
            await asyncio.wait_for(self._idle.wait(), STEER_INTERRUPT_TIMEOUT)
        except TimeoutError:
            raise AppError(
                ErrorKind.TIMEOUT,
                f"turn {s.current_turn} did not stop within {STEER_INTERRUPT_TIMEOUT:.0f}s of the interrupt",
            ) from None

    def _emit_user_item(self, parts: list[InputPart]) -> None:
        from .session import _user_content

        item = UniversalItem(
            item_id=new_id("itm_"), kind="message", role="user", status="completed", content=_user_content(parts)
        )
        self.session.emit(
            "item.started", ItemData(item=item.model_copy(update={"status": "in_progress"})), source="daemon"
        )
        self.session.emit("item.completed", ItemData(item=item), source="daemon")

    # the queue

    def listing(self) -> list[QueuedMessage]:
        return [
            QueuedMessage(message_id=m.message_id, turn_id=m.turn_id, content=m.content, position=i)
            for i, m in enumerate(self.queue, 1)
        ]

    def dequeue(self, message_id: str) -> QueuedMessage:
        for i, m in enumerate(self.queue, 1):
            if m.message_id == message_id:
                del self.queue[i - 1]
                self.session.emit(
                    "message.dequeued", MessageDequeuedData(message_id=message_id, reason="removed"), source="daemon"
                )
                fut = self._starts.pop(message_id, None)
                if fut is not None and not fut.done():
                    fut.set_exception(
                        AppError(ErrorKind.MESSAGE_NOT_FOUND, f"queued message {message_id} was removed")
                    )
                    fut.exception()  # retrieved: nobody may be waiting on it
                return QueuedMessage(message_id=m.message_id, turn_id=m.turn_id, content=m.content, position=i)
        raise AppError(
            ErrorKind.MESSAGE_NOT_FOUND,
            f"no queued message {message_id!r} in session {self.session.session_id}",
            session_id=self.session.session_id,
            message_id=message_id,
            queued=[m.message_id for m in self.queue],
        )

    def _on_idle(self) -> None:
        """Called by the session when a turn ends or the agent (re)starts."""
        self._idle.set()
        self._kick()

    def _kick(self) -> None:
        if self._draining or self._steering or (not self.queue and self._pending is None):
            return
        task = asyncio.ensure_future(self._drain())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        s = self.session
        if self._draining:
            return
        self._draining = True
        try:
            await asyncio.sleep(0)  # let the turn's last events settle first
            if s.ended or s.current_turn is not None or self._steering:
                return
            if self._pending is not None:
                pending, self._pending = self._pending, None
                try:
                    await self._apply(pending)
                except AppError as exc:
                    s.emit("error", ErrorData(message=f"configure failed: {exc.message}"), source="daemon")
            if not self.queue or s.ended or s.current_turn is not None:
                return
            msg = self.queue.pop(0)
            s.emit(
                "message.dequeued",
                MessageDequeuedData(message_id=msg.message_id, reason="delivered", turn_id=msg.turn_id),
                source="daemon",
            )
            fut = self._starts.pop(msg.message_id, None)
            try:
                waiter = await self._start_turn(list(msg.content), msg.turn_id)
            except AppError as exc:
                s.emit(
                    "error",
                    ErrorData(message=f"queued message {msg.message_id} could not start: {exc.message}"),
                    source="daemon",
                )
                if fut is not None and not fut.done():
                    fut.set_exception(exc)
                    fut.exception()
                self._draining = False
                self._kick()
                return
            if fut is not None and not fut.done():
                fut.set_result(waiter)
        finally:
            self._draining = False

    # configure

    def validate(self, p: ConfigureParams) -> None:
        c = self.driver.control
        name = self.driver.name
        if p.agent_mode is not None and p.agent_mode not in self.driver.agent_modes:
            have = ", ".join(self.driver.agent_modes) or "none"
            raise AppError(
                ErrorKind.UNSUPPORTED_MODE,
                f"{name} has no agent mode {p.agent_mode!r} (it has: {have})",
                agent_mode=p.agent_mode,
                modes=self.driver.agent_modes,
            )
        if p.permission_mode is not None and c.configure_permission_mode == "no":
            raise AppError(
                ErrorKind.UNSUPPORTED_MODE,
                f"{name} sessions cannot change their permission mode",
                permission_mode=p.permission_mode,
            )
        if p.model is not None and c.configure_model == "no":
            raise AppError(ErrorKind.NOT_SUPPORTED, f"{name} sessions cannot change their model", model=p.model)

    async def configure(self, p: ConfigureParams) -> ConfigureResult:
        s = self.session
        self.validate(p)
        if s.ended:
            raise AppError(
                ErrorKind.SESSION_ENDED, f"session {s.session_id} has ended: resume it first", session_id=s.session_id
            )
        fields = {"model": p.model, "agent_mode": p.agent_mode, "permission_mode": p.permission_mode}
        change = {k: v for k, v in fields.items() if v is not None}
        if s.current_turn is not None or self._steering:
            self._pending = {**(self._pending or {}), **change}
            how = self._expected_how(change)
            note = f"takes effect when turn {s.current_turn} ends"
            self._record(change)
            s.emit("session.configured", SessionConfiguredData(**change, how=how, note=note), source="daemon")
            return self._result(how, note)
        how = await self._apply(change)
        return self._result(how, None)

    def _expected_how(self, change: dict[str, Any]) -> ConfigureHow:
        c = self.driver.control
        order = {"live": 0, "next_turn": 1, "restart": 2}
        hows = [getattr(c, f"configure_{k}") for k in change]
        return max((h for h in hows if h != "no"), key=order.__getitem__, default="next_turn")

    async def _apply(self, change: dict[str, Any]) -> ConfigureHow:
        s = self.session
        adapter = s.adapter
        if adapter is None or s.ended:
            raise AppError(ErrorKind.SESSION_ENDED, f"session {s.session_id} has ended")
        how = await adapter.configure(change.get("model"), change.get("agent_mode"), change.get("permission_mode"))
        for k, v in change.items():
            setattr(adapter.config, k, v)
        self._record(change)
        s.emit("session.configured", SessionConfiguredData(**change, how=how), source="daemon")
        return how

    def _record(self, change: dict[str, Any]) -> None:
        for k, v in change.items():
            setattr(self.session.record, k, v)
        self.session.persist()

    def _result(self, how: ConfigureHow, note: str | None) -> ConfigureResult:
        r = self.session.record
        return ConfigureResult(
            session_id=r.session_id,
            model=r.model,
            agent_mode=r.agent_mode,
            permission_mode=r.permission_mode,
            how=how,
            note=note,
        )


# fork


class ForkPlan:
    """A validated fork point of a source session, with what a replay would send."""

    def __init__(self, at_sequence: int, point: ForkPoint, replay: str) -> None:
        self.at_sequence = at_sequence
        self.point = point
        self.replay = replay


def plan_fork(source: Session, at_sequence: int | None) -> ForkPlan:
    """Check that `at_sequence` is a turn boundary of `source` (default: its last one) and count what it keeps."""
    boundaries = [1]
    turns = user_messages = 0
    open_turn: str | None = None
    kept: list[tuple[str, str]] = []  # (role, text) up to the fork point
    kept_at: dict[int, tuple[int, int, int]] = {1: (0, 0, 0)}
    for event in events_of(source):
        t, data, seq = event["type"], event["data"], event["sequence"]
        if t == "turn.started":
            open_turn = data["turn_id"]
            turns += 1
        elif t == "item.completed" and data["item"].get("kind") == "message":
            item = data["item"]
            text = "".join(p.get("text", "") for p in item.get("content", []) if p.get("type") == "text")
            if item.get("role") == "user" and event.get("source") == "daemon":
                user_messages += 1
            if item.get("role") in ("user", "assistant") and text:
                kept.append((item["role"], text))
        elif t == "turn.ended" and open_turn is not None:
            open_turn = None
            boundaries.append(seq)
            kept_at[seq] = (turns, user_messages, len(kept))
    if at_sequence is None:
        at_sequence = boundaries[-1]
    if at_sequence not in kept_at:
        nearby = [b for b in boundaries if abs(b - at_sequence) <= 200][-5:] or boundaries[-5:]
        raise AppError(
            ErrorKind.NOT_TURN_BOUNDARY,
            f"sequence {at_sequence} is not a turn boundary of session {source.session_id}: fork at 1 (before the "
            "first turn) or at the sequence of a turn.ended event",
            at_sequence=at_sequence,
            boundaries=nearby,
        )
    n_turns, n_users, n_kept = kept_at[at_sequence]
    point = ForkPoint(
        source_session_id=source.session_id,
        source_native_id=source.record.native_session_id or "",
        turns=n_turns,
        user_messages=n_users,
        whole=at_sequence == boundaries[-1] and n_turns == turns,
    )
    return ForkPlan(at_sequence, point, replay_text(kept[:n_kept]))


def replay_text(messages: list[tuple[str, str]]) -> str:
    """A bounded, structured replay of a conversation, for agents that cannot fork natively."""
    if not messages:
        return ""
    lines: list[str] = []
    size = 0
    for role, text in reversed(messages):
        entry = f"<{role}>\n{text}\n</{role}>"
        if size + len(entry) > REPLAY_MAX_CHARS and lines:
            lines.append(f"<!-- {len(messages) - len(lines)} earlier messages left out -->")
            break
        lines.append(entry)
        size += len(entry)
    body = "\n".join(reversed(lines))
    return (
        "This conversation continues an earlier one. Its history so far, for context only:\n"
        f"<history>\n{body}\n</history>\n\nThe new message follows."
    )



async def fork_session(manager: SessionManager, p: ForkParams) -> tuple[Session, int, ForkHow]:
    """A new session whose history is the source's up to a turn boundary: native where the agent can, else the
    first message carries a replay. Returns the session and how (native or replay)."""
    source = manager.get(p.session_id)
    plan = plan_fork(source, p.at_sequence)
    driver = manager.driver(source.record.agent)
    r = source.record
    native = bool(plan.point.source_native_id) and driver.can_fork(plan.point)
    started: dict[str, Any] = {"forked_from": source.session_id, "at_sequence": plan.at_sequence}
    metadata: dict[str, Any] = {"fork": "native" if native else "replay"}
    if not native and plan.replay:
        metadata["replay"] = plan.replay
    started["metadata"] = metadata
    params = SessionCreateParams(
        session_id=p.new_session_id,
        agent=r.agent,
        cwd=r.cwd,
        model=r.model,
        agent_mode=r.agent_mode,
        permission_mode=r.permission_mode,
        env=p.env if p.env is not None else manager.env(source.session_id),
        mcp_servers=list(r.mcp_servers) or None,
        include_raw=r.include_raw,
    )
    session = await manager.create(params, fork=plan.point if native else None, started=started)
    if not native and plan.replay:
        control_of(session, driver).replay = plan.replay  # sent ahead of the fork's first message
    return session, plan.at_sequence, "native" if native else "replay"
