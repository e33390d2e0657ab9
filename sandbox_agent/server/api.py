"""The daemon's JSON-RPC methods, the same for every transport."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from typing import Any

import orjson

from .. import __version__
from ..rpc.connection import after_reply
from ..rpc.dispatcher import Dispatcher, Method
from ..rpc.errors import AppError
from ..rpc.openrpc import build_openrpc
from ..schema.agents import AgentInfo
from ..schema.errors import ErrorKind
from ..schema.events import UniversalEvent
from ..schema.methods import (
    AgentInstallParams,
    AgentInstallResult,
    AgentListResult,
    EmptyParams,
    EmptyResult,
    EventsParams,
    EventsResult,
    InitializeParams,
    InitializeResult,
    InstallProgressNotification,
    InterruptResult,
    PermissionReplyParams,
    PromptParams,
    PromptResult,
    QuestionRejectParams,
    QuestionReplyParams,
    ResumeParams,
    SendMessageParams,
    SendMessageResult,
    ServerInfo,
    SessionCreateParams,
    SessionEventNotification,
    SessionIdParams,
    SessionInfo,
    SubscribeParams,
    SubscribeResult,
    SubscriptionClosedNotification,
    UnsubscribeParams,
)
from ..sessions.subscription import Subscription
from .client_context import ClientContext

PROTOCOL_VERSION = "2026-11-01"



class _MethodTable(dict[str, Method]):
    """The method table, with the handlers of files, processes and terminals imported on the first call of one of
    their methods or when the whole table is read (rpc.discover): with their models and machinery they cost ~15 ms
    and ~1 MB at start that most daemons never use."""

    LAZY = {"fs/": "api_fs", "processes/": "api_processes", "terminals/": "api_terminals"}
    # the order methods are listed in (rpc.discover, docs/openrpc.json), whichever group was loaded first
    ORDER = ("api", "api_control", "api_daemon", "api_fs", "api_ops", "api_processes", "api_terminals")

    def __init__(self) -> None:
        super().__init__()
        self.pending = dict(self.LAZY)

    def _load(self, name: str | None = None) -> None:
        prefixes = [p for p in self.pending if name is None or name.startswith(p)]
        for prefix in prefixes:
            importlib.import_module(f"{__package__}.{self.pending.pop(prefix)}")
        if prefixes:
            rank = {f"{__package__}.{m}": i for i, m in enumerate(self.ORDER)}
            ordered = sorted(dict.items(self), key=lambda kv: rank.get(kv[1].handler.__module__, len(rank)))
            dict.clear(self)
            dict.update(self, ordered)

    def get(self, name: str, default: Any = None) -> Any:  # the dispatcher's lookup
        if self.pending and not dict.__contains__(self, name):
            self._load(name)
        return dict.get(self, name, default)

    def __getitem__(self, name: str) -> Method:
        if self.pending and not dict.__contains__(self, name):
            self._load(name)
        return dict.__getitem__(self, name)

    def __contains__(self, name: object) -> bool:
        return self.get(name) is not None if isinstance(name, str) else False

    def __iter__(self) -> Iterator[str]:
        self._load()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._load()
        return dict.__len__(self)

    def keys(self) -> Any:
        self._load()
        return dict.keys(self)

    def values(self) -> Any:
        self._load()
        return dict.values(self)

    def items(self) -> Any:
        self._load()
        return dict.items(self)


api: Dispatcher[ClientContext] = Dispatcher()
api.methods = _MethodTable()
_openrpc: dict[str, Any] | None = None


def _agents(ctx: ClientContext) -> list[AgentInfo]:
    return [d.info() for d in ctx.daemon.registry.drivers.values()]


@api.method("initialize", InitializeParams, InitializeResult, "Handshake: server info, protocol version, agents.")
async def initialize(p: InitializeParams, ctx: ClientContext) -> InitializeResult:
    return InitializeResult(
        server_info=ServerInfo(name="sandbox-agent", version=__version__),
        protocol_version=PROTOCOL_VERSION,
        agents=_agents(ctx),
    )


@api.method("agents/list", EmptyParams, AgentListResult, "Every agent with install state and feature coverage.")
async def agents_list(p: EmptyParams, ctx: ClientContext) -> AgentListResult:
    return AgentListResult(agents=_agents(ctx))


@api.method("agents/install", AgentInstallParams, AgentInstallResult, "Install an agent; streams install_progress.")
async def agents_install(p: AgentInstallParams, ctx: ClientContext) -> AgentInstallResult:
    driver = ctx.daemon.registry.get(p.agent)
    conn = ctx.connection
    pending: set[asyncio.Task[None]] = set()

    def progress(phase: str, done: int | None, total: int | None) -> None:
        if conn is None or conn.closed:
            return
        note = InstallProgressNotification(agent=driver.id, phase=phase, bytes=done, total=total)
        task = asyncio.ensure_future(conn.notify("agents/install_progress", note.model_dump(exclude_none=True)))
        pending.add(task)
        task.add_done_callback(pending.discard)

    info = await driver.install(p.version, p.reinstall, progress)
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    return AgentInstallResult(agent=info.id, version=info.version, path=info.path)


@api.method("sessions/create", SessionCreateParams, SessionInfo, "Start a session on an agent (warm, ready to send).")
async def sessions_create(p: SessionCreateParams, ctx: ClientContext) -> SessionInfo:
    return (await ctx.daemon.sessions.create(p)).info()


@api.method("sessions/resume", ResumeParams, SessionInfo, "Continue an ended session on a new agent process.")
async def sessions_resume(p: ResumeParams, ctx: ClientContext) -> SessionInfo:
    return (await ctx.daemon.sessions.resume(p.session_id, p.env, p.replay)).info()


@api.method("sessions/list", EmptyParams, list[SessionInfo], "Every session, live and ended (restored too).")
async def sessions_list(p: EmptyParams, ctx: ClientContext) -> list[SessionInfo]:
    local = ctx.daemon.sessions.infos()
    remote = ctx.daemon.sessions.remote  # with --store: sessions only the store has, too
    return local if remote is None else local + await remote.infos({s.session_id for s in local})


@api.method("sessions/get", SessionIdParams, SessionInfo, "One session's state.")
async def sessions_get(p: SessionIdParams, ctx: ClientContext) -> SessionInfo:
    return (await ctx.daemon.sessions.find(p.session_id)).info()


@api.method("sessions/send_message", SendMessageParams, SendMessageResult, "Send a user message; returns at once.")
async def sessions_send_message(p: SendMessageParams, ctx: ClientContext) -> SendMessageResult:
    return await api_control.send_message(ctx, p)  # delivery: reject (default), queue or steer


@api.method("sessions/prompt", PromptParams, PromptResult, "Send a user message and wait for the turn to end.")
async def sessions_prompt(p: PromptParams, ctx: ClientContext) -> PromptResult:
    return await api_control.prompt(ctx, p)


@api.method("sessions/events", EventsParams, EventsResult, "Read stored events with sequence > offset.")
async def sessions_events(p: EventsParams, ctx: ClientContext) -> dict[str, Any]:
    log_ = (await ctx.daemon.sessions.find(p.session_id)).log
    bodies = log_.read(p.offset, p.limit)
    next_offset = p.offset + len(bodies)
    return {
        "events": [orjson.Fragment(b) for b in bodies],
        "next_offset": max(next_offset, p.offset),
        "has_more": next_offset < log_.visible_seq,
    }


@api.method("sessions/subscribe", SubscribeParams, SubscribeResult, "Replay events after offset, then stream live.")
async def sessions_subscribe(p: SubscribeParams, ctx: ClientContext) -> SubscribeResult:
    if not ctx.streaming:
        raise AppError(
            ErrorKind.NOT_SUPPORTED,
            "subscriptions need a streaming transport: use the WebSocket, stdio, or the SSE endpoint",
        )
    session = await ctx.daemon.sessions.find(p.session_id)
    if p.offset > session.log.last_seq:
        raise AppError(
            ErrorKind.INVALID_OFFSET,
            f"offset {p.offset} is past the last event ({session.log.last_seq})",
            last_sequence=session.log.last_seq,
        )
    sub = Subscription(session.log, p.offset, ctx.deliver, ctx.closed, lambda: session.ended)
    ctx.subscriptions[sub.id] = sub
    after_reply(sub.start)  # the client learns the subscription id before its first notification
    return SubscribeResult(subscription_id=sub.id)


@api.method("sessions/unsubscribe", UnsubscribeParams, EmptyResult, "Stop a subscription.")
async def sessions_unsubscribe(p: UnsubscribeParams, ctx: ClientContext) -> EmptyResult:
    sub = ctx.subscriptions.pop(p.subscription_id, None)
    if sub is None:
        raise AppError(
            ErrorKind.SUBSCRIPTION_NOT_FOUND,
            f"no subscription {p.subscription_id!r}",
            subscription_id=p.subscription_id,
        )
    await sub.cancel()
    return EmptyResult()


@api.method("sessions/interrupt", SessionIdParams, InterruptResult, "Cancel the running turn; the agent stays usable.")
async def sessions_interrupt(p: SessionIdParams, ctx: ClientContext) -> InterruptResult:
    return InterruptResult(interrupted=await ctx.daemon.sessions.get(p.session_id).interrupt())


@api.method("sessions/terminate", SessionIdParams, SessionInfo, "Stop the agent process; the session ends.")
async def sessions_terminate(p: SessionIdParams, ctx: ClientContext) -> SessionInfo:
    await ctx.daemon.sessions.terminate(p.session_id)
    return ctx.daemon.sessions.get(p.session_id).info()


@api.method("permissions/reply", PermissionReplyParams, EmptyResult, "Answer a permission request.")
async def permissions_reply(p: PermissionReplyParams, ctx: ClientContext) -> EmptyResult:
    await ctx.daemon.sessions.get(p.session_id).reply_permission(p.permission_id, p.reply, p.message)
    return EmptyResult()


@api.method("questions/reply", QuestionReplyParams, EmptyResult, "Answer a question: one list of labels per question.")
async def questions_reply(p: QuestionReplyParams, ctx: ClientContext) -> EmptyResult:
    await ctx.daemon.sessions.get(p.session_id).reply_question(p.question_id, p.answers)
    return EmptyResult()


@api.method("questions/reject", QuestionRejectParams, EmptyResult, "Decline to answer a question.")
async def questions_reject(p: QuestionRejectParams, ctx: ClientContext) -> EmptyResult:
    await ctx.daemon.sessions.get(p.session_id).reply_question(p.question_id, None)
    return EmptyResult()


@api.method("rpc.discover", EmptyParams, None, "The OpenRPC document of this API.")
async def rpc_discover(p: EmptyParams, ctx: ClientContext) -> dict[str, Any]:
    return openrpc_document()


def openrpc_document() -> dict[str, Any]:
    global _openrpc
    if _openrpc is None:
        from ..schema.processes import ProcessExitedNotification, ProcessOutputNotification

        _openrpc = build_openrpc(
            api.methods,
            "Sandbox Agent",
            __version__,
            extra_schemas={
                "UniversalEvent": UniversalEvent,
                "SessionEventNotification": SessionEventNotification,
                "SubscriptionClosedNotification": SubscriptionClosedNotification,
                "InstallProgressNotification": InstallProgressNotification,
                "ProcessOutputNotification": ProcessOutputNotification,
                "ProcessExitedNotification": ProcessExitedNotification,
            },
        )
    return _openrpc


from . import api_control, api_daemon, api_ops  # noqa: E402,F401  (api_fs, api_processes, api_terminals: _MethodTable)
