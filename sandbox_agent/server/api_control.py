"""JSON-RPC methods for session control while it runs: delivery modes, the queue, configure and fork."""

from __future__ import annotations

import asyncio
import time

from ..rpc.errors import AppError
from ..schema.control import (
    ConfigureParams,
    ConfigureResult,
    DequeueParams,
    DequeueResult,
    ForkParams,
    QueueResult,
)
from ..schema.errors import ErrorKind
from ..schema.methods import (
    ForkResult,
    PromptParams,
    PromptResult,
    SendMessageParams,
    SendMessageResult,
    SessionIdParams,
)
from ..sessions.control import Sent, SessionControl, control_of, fork_session
from .api import api
from .client_context import ClientContext


async def _control(ctx: ClientContext, session_id: str) -> SessionControl:
    manager = ctx.daemon.sessions
    session = await manager.find(session_id)  # with --store, a session only the store has is imported on first use
    return control_of(session, manager.driver(session.record.agent))


async def deliver(ctx: ClientContext, p: SendMessageParams) -> Sent:
    """sessions/send_message and sessions/prompt: reject (default), queue or steer while a turn runs."""
    control = await _control(ctx, p.session_id)
    if ctx.daemon.sessions.remote is None:
        return await control.send(p.parts(), p.delivery)
    return await _deliver_restorable(ctx, control, p)


async def _deliver_restorable(ctx: ClientContext, control: SessionControl, p: SendMessageParams) -> Sent:
    """With --store: a session restored by replay sends that replay with its next message, even when the daemon
    restarted since the restore (store/primers.py)."""
    from ..store.primers import primers_for, rearm, settle

    manager, session = ctx.daemon.sessions, control.session
    if session.ended and p.delivery == "reject" and session.session_id in getattr(manager.remote, "imported", ()):
        # imported from the store and never resumed: the restore decides native or replay when it resumes, and a
        # replay must go out with THIS message, so resume before sending rather than inside the send
        await manager.resume(session.session_id, None)
    primers = primers_for(ctx.daemon.state_dir)
    rearm(primers, session, control)
    sent = await control.send(p.parts(), p.delivery)
    settle(primers, session.session_id, control)
    return sent


async def send_message(ctx: ClientContext, p: SendMessageParams) -> SendMessageResult:
    return (await deliver(ctx, p)).result


async def prompt(ctx: ClientContext, p: PromptParams) -> PromptResult:
    session = await ctx.daemon.sessions.find(p.session_id)
    t0 = time.monotonic()
    sent = await deliver(ctx, p)
    try:
        if sent.waiter.done():  # started at once (the usual case): no timer, no shield
            waiter = sent.waiter.result()
        else:
            waiter = await asyncio.wait_for(asyncio.shield(sent.waiter), p.timeout)
    except TimeoutError:
        raise AppError(
            ErrorKind.TIMEOUT,
            f"queued message {sent.result.message_id} has not started within {p.timeout}s",
            turn_id=sent.result.turn_id,
            message_id=sent.result.message_id,
        ) from None
    left = None if p.timeout is None else max(0.001, p.timeout - (time.monotonic() - t0))
    stop_reason = await session.wait_turn(waiter, left)
    return PromptResult(turn_id=waiter.turn_id, stop_reason=stop_reason, text="".join(waiter.texts))


@api.method("sessions/queue", SessionIdParams, QueueResult, "The messages queued to run after the current turn.")
async def sessions_queue(p: SessionIdParams, ctx: ClientContext) -> QueueResult:
    return QueueResult(session_id=p.session_id, messages=(await _control(ctx, p.session_id)).listing())


@api.method("sessions/dequeue", DequeueParams, DequeueResult, "Remove a queued message before it runs.")
async def sessions_dequeue(p: DequeueParams, ctx: ClientContext) -> DequeueResult:
    return DequeueResult(removed=(await _control(ctx, p.session_id)).dequeue(p.message_id))


@api.method(
    "sessions/configure",
    ConfigureParams,
    ConfigureResult,
    "Change model, agent mode or permission mode for the next turn (journaled as session.configured).",
)
async def sessions_configure(p: ConfigureParams, ctx: ClientContext) -> ConfigureResult:
    return await (await _control(ctx, p.session_id)).configure(p)


@api.method(
    "sessions/fork",
    ForkParams,
    ForkResult,
    "A new session whose history is the source's up to a turn boundary (native fork where the agent has one).",
)
async def sessions_fork(p: ForkParams, ctx: ClientContext) -> ForkResult:
    await ctx.daemon.sessions.find(p.session_id)  # the source may be a session only the store has
    session, at_sequence, how = await fork_session(ctx.daemon.sessions, p)
    info = session.info()
    return ForkResult(**dict(info), forked_from=p.session_id, at_sequence=at_sequence, fork=how)
