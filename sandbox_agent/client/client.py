"""The Python SDK: `await SandboxAgent.start()` (the state dir's shared daemon) or `.connect(url)` (remote)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..rpc.connection import Connection, ConnectionClosed
from ..schema.agents import AgentInfo
from ..schema.control import ConfigureResult, Delivery, DequeueResult, QueuedMessage, QueueResult
from ..schema.events import UniversalEvent, universal_event_adapter
from ..schema.methods import (
    AgentInstallResult,
    ForkResult,
    InitializeResult,
    InterruptResult,
    PromptResult,
    SendMessageResult,
    SessionInfo,
)
from ..schema.ops import StatusResult
from ..schema.usage import UsageParams, UsageResult
from .host import HostMixin, http_base
from .transports import StdioTransport, Transport, UnixTransport, WebSocketTransport, ws_url

log = logging.getLogger(__name__)

Opener = Callable[[], Awaitable[Transport]]
ProgressHandler = Callable[[dict[str, Any]], None]


@dataclass
class _Closed:
    reason: str
    resume_offset: int


class _Lost:
    """The connection dropped under a live subscription."""


class SandboxAgent(HostMixin):
    """A connection to one daemon with a typed method for every API call."""

    def __init__(self, opener: Opener, reconnect: bool, reconnect_timeout: float = 30.0) -> None:
        self._opener = opener
        self._reconnect = reconnect
        self._reconnect_timeout = reconnect_timeout
        self._transport: Transport | None = None
        self._conn: Connection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._queues: dict[str, asyncio.Queue[Any]] = {}
        self._early: dict[str, list[Any]] = {}
        self._progress: list[ProgressHandler] = []
        self._lock = asyncio.Lock()
        self._closed = False

    # opening and closing

    @classmethod
    async def start(
        cls,
        *,
        state_dir: str | os.PathLike[str] | None = None,
        ephemeral: bool = False,
        embedded: bool = False,
        env: dict[str, str] | None = None,
        idle_exit: float | None = None,
        hitl_timeout_s: float | None = None,
    ) -> SandboxAgent:
        """Attach to the state dir's shared daemon (starting one when none runs); sessions outlive this client.

        `embedded=True` spawns a private `sandbox-agent stdio --embedded` child bound to this client instead
        (refused when another daemon owns the state dir); `ephemeral=True` a private in-memory one. `env` is
        the environment of a daemon this call starts.
        """
        args = ["--log-level", "warning"]
        if hitl_timeout_s:
            args += ["--hitl-timeout", str(hitl_timeout_s)]
        if ephemeral or embedded:
            if state_dir:
                args += ["--state-dir", str(state_dir)]
            args.append("--ephemeral" if ephemeral else "--embedded")

            async def spawn() -> Transport:
                return await StdioTransport.spawn(args, env)

            client = cls(spawn, reconnect=False)
            await client._open()
            return client
        from ..statedir import DEFAULT_IDLE_EXIT, default_state_dir

        where = Path(state_dir).absolute() if state_dir else default_state_dir({**os.environ, **(env or {})})
        idle = idle_exit if idle_exit is not None else float(os.environ.get("SANDBOX_AGENT_IDLE_EXIT") or 0)
        args += ["--idle-exit", str(idle or DEFAULT_IDLE_EXIT)]
        return await cls.attach(where, args, env)

    @classmethod
    async def attach(
        cls, state_dir: Path, daemon_args: list[str], env: dict[str, str] | None = None
    ) -> SandboxAgent:
        """Connect to the state dir's daemon over its socket, starting it with `daemon_args` if none runs."""

        async def opener() -> Transport:
            return await UnixTransport.attach(state_dir, daemon_args, env)

        # A daemon that died is restarted by the next attach; subscriptions resume from their last sequence.
        client = cls(opener, reconnect=True)
        await client._open()
        return client

    @classmethod
    async def connect(
        cls,
        url: str,
        token: str | None = None,
        *,
        reconnect: bool = True,
        reconnect_timeout: float = 30.0,
        headers: dict[str, str] | None = None,
    ) -> SandboxAgent:
        """Connect to `sandbox-agent server` (http(s):// or ws(s):// URL); reconnects when the link drops.

        `headers` go on the WebSocket handshake too (e.g. a sandbox provider's preview token)."""
        target = ws_url(url)

        async def opener() -> Transport:
            return await WebSocketTransport.open(target, token, headers=headers)

        client = cls(opener, reconnect=reconnect, reconnect_timeout=reconnect_timeout)
        client._http_base = http_base(url)  # for streamed files and terminals
        client._http_headers = {**(headers or {}), **({"authorization": f"Bearer {token}"} if token else {})}
        await client._open()
        return client

    async def _open(self) -> None:
        transport = await self._opener()
        conn = Connection(transport.send, on_notification=self._on_notification)
        self._transport, self._conn = transport, conn
        self._reader = asyncio.ensure_future(self._read(transport, conn))

    async def _read(self, transport: Transport, conn: Connection) -> None:
        try:
            async for message in transport.messages():
                conn.receive(message)
        finally:
            await conn.close()
            for queue in self._queues.values():
                queue.put_nowait(_Lost())

    async def reconnect(self) -> None:
        """Open a fresh connection (after a drop); subscriptions resume from their last sequence."""
        if not self._reconnect or self._closed:
            raise ConnectionClosed("connection lost and reconnecting is off")
        async with self._lock:
            if self._conn is not None and not self._conn.closed:
                return
            deadline = asyncio.get_running_loop().time() + self._reconnect_timeout
            delay = 0.05
            while True:
                try:
                    await self._open()
                    return
                except (TimeoutError, OSError, ConnectionError) as exc:
                    if asyncio.get_running_loop().time() + delay > deadline:
                        raise ConnectionClosed(f"could not reconnect: {exc}") from None
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                except Exception as exc:  # websockets raises its own types for refused handshakes
                    if asyncio.get_running_loop().time() + delay > deadline:
                        raise ConnectionClosed(f"could not reconnect: {exc}") from None
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)

    async def close(self) -> None:
        self._closed = True
        if self._transport is not None:
            with contextlib.suppress(Exception):
                await self._transport.close()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._reader, 5)

    async def __aenter__(self) -> SandboxAgent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # raw calls and notifications

    async def call(self, method: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        if self._conn is None or self._conn.closed:
            await self.reconnect()
        assert self._conn is not None
        return await self._conn.request(method, params or {}, timeout)

    def _on_notification(self, method: str, params: Any) -> None:
        if method == "sessions/event":
            self._route(params["subscription_id"], params["event"])
        elif method == "sessions/subscription_closed":
            self._route(params["subscription_id"], _Closed(params["reason"], params["resume_offset"]))
        elif method == "agents/install_progress":
            for handler in self._progress:
                handler(params)
        elif method.startswith("processes/") and isinstance(params, dict) and "subscription_id" in params:
            self._route(params["subscription_id"], (method, params))

    def _route(self, subscription_id: str, item: Any) -> None:
        queue = self._queues.get(subscription_id)
        if queue is None:  # a notification can overtake the subscribe response
            self._early.setdefault(subscription_id, []).append(item)
        else:
            queue.put_nowait(item)

    # typed API

    async def initialize(self, client_name: str = "sandbox-agent-python") -> InitializeResult:
        return InitializeResult.model_validate(await self.call("initialize", {"client_info": {"name": client_name}}))

    async def list_agents(self) -> list[AgentInfo]:
        return [AgentInfo.model_validate(a) for a in (await self.call("agents/list"))["agents"]]

    async def install_agent(
        self,
        agent: str,
        version: str | None = None,
        reinstall: bool = False,
        on_progress: ProgressHandler | None = None,
    ) -> AgentInstallResult:
        if on_progress is not None:
            self._progress.append(on_progress)
        try:
            params = {"agent": agent, "version": version, "reinstall": reinstall}
            return AgentInstallResult.model_validate(await self.call("agents/install", params))
        finally:
            if on_progress is not None:
                self._progress.remove(on_progress)

    async def create_session(self, agent: str, **options: Any) -> Session:
        info = SessionInfo.model_validate(await self.call("sessions/create", {"agent": agent, **options}))
        return Session(self, info.session_id, info)

    async def resume_session(self, session_id: str, env: dict[str, str] | None = None) -> Session:
        info = SessionInfo.model_validate(await self.call("sessions/resume", {"session_id": session_id, "env": env}))
        return Session(self, session_id, info)

    def session(self, session_id: str) -> Session:
        return Session(self, session_id, None)

    async def list_sessions(self) -> list[SessionInfo]:
        return [SessionInfo.model_validate(s) for s in await self.call("sessions/list")]

    async def get_session(self, session_id: str) -> SessionInfo:
        return SessionInfo.model_validate(await self.call("sessions/get", {"session_id": session_id}))

    async def usage(
        self, session_id: str | None = None, agent: str | None = None, since: datetime | None = None
    ) -> UsageResult:
        """Token and cost totals from turn.ended usage (`sessions/usage`): overall, by agent, by model, per session."""
        params = UsageParams(session_id=session_id, agent=agent, since=since).model_dump(mode="json", exclude_none=True)
        return UsageResult.model_validate(await self.call("sessions/usage", params))

    async def status(self) -> StatusResult:
        """The daemon on one screen, as data (`ops/status`)."""
        return StatusResult.model_validate(await self.call("ops/status"))

    async def read_events(
        self, session_id: str, offset: int = 0, limit: int = 100
    ) -> tuple[list[UniversalEvent], int, bool]:
        r = await self.call("sessions/events", {"session_id": session_id, "offset": offset, "limit": limit})
        events = [universal_event_adapter.validate_python(e) for e in r["events"]]
        return events, r["next_offset"], r["has_more"]

    async def _subscribe(self, session_id: str, offset: int) -> tuple[str, asyncio.Queue[Any]]:
        r = await self.call("sessions/subscribe", {"session_id": session_id, "offset": offset})
        sub_id = r["subscription_id"]
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for item in self._early.pop(sub_id, []):
            queue.put_nowait(item)
        self._queues[sub_id] = queue
        return sub_id, queue

    async def _unsubscribe(self, sub_id: str) -> None:
        self._queues.pop(sub_id, None)
        if self._conn is not None and not self._conn.closed:
            with contextlib.suppress(Exception):
                await self.call("sessions/unsubscribe", {"subscription_id": sub_id}, timeout=5)

    def events(self, session_id: str, offset: int = 0, record: Any = None) -> AsyncIterator[UniversalEvent]:
        """Every event after `offset`, then live ones, until the session ends. Survives reconnects and overflow.

        `record=Store(url)` (sandbox_agent.store) also writes each event into that store, for apps whose sandbox
        cannot reach the database; the stream never waits on it."""
        stream = self._events(session_id, offset)
        if record is None:
            return stream
        from ..store.recorder import recorded

        return recorded(stream, record, lambda: self.get_session(session_id))

    async def _events(self, session_id: str, offset: int = 0) -> AsyncIterator[UniversalEvent]:
        last = offset
        while True:
            try:
                sub_id, queue = await self._subscribe(session_id, last)
            except ConnectionClosed:
                await self.reconnect()
                continue
            finished = False
            try:
                while True:
                    item = await queue.get()
                    if isinstance(item, _Lost):
                        break
                    if isinstance(item, _Closed):
                        last = max(last, item.resume_offset)
                        finished = item.reason != "overflow"
                        break
                    event = universal_event_adapter.validate_python(item)
                    if event.sequence <= last:
                        continue
                    last = event.sequence
                    yield event
            finally:
                self._queues.pop(sub_id, None)
                if not finished:
                    await self._unsubscribe(sub_id)
            if finished:
                return
            if self._conn is None or self._conn.closed:
                await self.reconnect()


class Session:
    """A handle on one session of a daemon."""

    def __init__(self, client: SandboxAgent, session_id: str, info: SessionInfo | None) -> None:
        self.client = client
        self.id = session_id
        self.info = info

    def _body(self, message: str | list[dict[str, Any]]) -> dict[str, Any]:
        key = "message" if isinstance(message, str) else "content"
        return {"session_id": self.id, key: message}

    async def send(self, message: str | list[dict[str, Any]], delivery: Delivery = "reject") -> str:
        """Start a turn; returns its turn id at once. While a turn runs, `delivery` says what happens: reject
        (session_busy), queue (runs next) or steer (into the running turn, else interrupt and send)."""
        return (await self.deliver(message, delivery)).turn_id

    async def deliver(self, message: str | list[dict[str, Any]], delivery: Delivery = "reject") -> SendMessageResult:
        """Like send, with the whole result: message id, outcome (started, queued, steered), queue position."""
        params = {**self._body(message), "delivery": delivery}
        return SendMessageResult.model_validate(await self.client.call("sessions/send_message", params))

    async def prompt(
        self, message: str | list[dict[str, Any]], timeout: float | None = None, delivery: Delivery = "reject"
    ) -> PromptResult:
        """Run a turn to its end and return the final assistant text."""
        params = {**self._body(message), "timeout": timeout, "delivery": delivery}
        return PromptResult.model_validate(await self.client.call("sessions/prompt", params))

    async def queue(self) -> list[QueuedMessage]:
        """Messages waiting for the running turn to end, in the order they will run."""
        result = await self.client.call("sessions/queue", {"session_id": self.id})
        return QueueResult.model_validate(result).messages

    async def dequeue(self, message_id: str) -> QueuedMessage:
        result = await self.client.call("sessions/dequeue", {"session_id": self.id, "message_id": message_id})
        return DequeueResult.model_validate(result).removed

    async def configure(
        self, model: str | None = None, agent_mode: str | None = None, permission_mode: str | None = None
    ) -> ConfigureResult:
        """Change the model, agent mode or permission mode for the next turn."""
        params = {"session_id": self.id, "model": model, "agent_mode": agent_mode, "permission_mode": permission_mode}
        result = await self.client.call("sessions/configure", {k: v for k, v in params.items() if v is not None})
        return ConfigureResult.model_validate(result)

    async def fork(
        self, at_sequence: int | None = None, new_session_id: str | None = None, env: dict[str, str] | None = None
    ) -> Session:
        """A new session with this one's history up to a turn boundary (default: the last turn that ended)."""
        params = {"session_id": self.id, "at_sequence": at_sequence, "new_session_id": new_session_id, "env": env}
        result = await self.client.call("sessions/fork", {k: v for k, v in params.items() if v is not None})
        info = ForkResult.model_validate(result)
        return Session(self.client, info.session_id, info)

    def events(self, offset: int = 0, record: Any = None) -> AsyncIterator[UniversalEvent]:
        """See SandboxAgent.events; `record=Store(url)` records what this stream sees."""
        return self.client.events(self.id, offset, record)

    async def get(self) -> SessionInfo:
        self.info = await self.client.get_session(self.id)
        return self.info

    async def interrupt(self) -> bool:
        return InterruptResult.model_validate(
            await self.client.call("sessions/interrupt", {"session_id": self.id})
        ).interrupted

    async def terminate(self) -> SessionInfo:
        return SessionInfo.model_validate(await self.client.call("sessions/terminate", {"session_id": self.id}))

    async def reply_permission(self, permission_id: str, reply: str, message: str | None = None) -> None:
        await self.client.call(
            "permissions/reply",
            {"session_id": self.id, "permission_id": permission_id, "reply": reply, "message": message},
        )

    async def answer_question(self, question_id: str, answers: list[list[str]]) -> None:
        await self.client.call(
            "questions/reply", {"session_id": self.id, "question_id": question_id, "answers": answers}
        )

    async def reject_question(self, question_id: str) -> None:
        await self.client.call("questions/reject", {"session_id": self.id, "question_id": question_id})
