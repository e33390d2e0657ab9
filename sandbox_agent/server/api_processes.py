"""The `processes/*` methods, registered on the API dispatcher."""

from __future__ import annotations

from ..fs.ops import decode_base64
from ..processes.process import parse_signal
from ..rpc.errors import AppError
from ..schema.errors import ErrorKind
from ..schema.methods import EmptyParams, EmptyResult
from ..schema.processes import (
    ProcessIdParams,
    ProcessInfo,
    ProcessInputParams,
    ProcessInputResult,
    ProcessKillParams,
    ProcessKillResult,
    ProcessLimitsResult,
    ProcessListResult,
    ProcessOutputParams,
    ProcessOutputResult,
    ProcessRunParams,
    ProcessRunResult,
    ProcessStartParams,
    ProcessStartResult,
    ProcessSubscribeParams,
    ProcessSubscribeResult,
    ProcessUnsubscribeParams,
)
from .api import api
from .client_context import ClientContext


@api.method("processes/run", ProcessRunParams, ProcessRunResult, "Run a command to its end (timeout, output caps).")
async def processes_run(p: ProcessRunParams, ctx: ClientContext) -> ProcessRunResult:
    return await ctx.daemon.processes.run(p)


@api.method("processes/start", ProcessStartParams, ProcessStartResult, "Start a command in the background.")
async def processes_start(p: ProcessStartParams, ctx: ClientContext) -> ProcessStartResult:
    proc = await ctx.daemon.processes.start(p)
    return ProcessStartResult(process_id=proc.id, pid=proc.pid)


@api.method("processes/list", EmptyParams, ProcessListResult, "Background processes, running and recently exited.")
async def processes_list(p: EmptyParams, ctx: ClientContext) -> ProcessListResult:
    return ProcessListResult(processes=[proc.info() for proc in ctx.daemon.processes.processes.values()])


@api.method("processes/get", ProcessIdParams, ProcessInfo, "One background process.")
async def processes_get(p: ProcessIdParams, ctx: ClientContext) -> ProcessInfo:
    return ctx.daemon.processes.get(p.process_id).info()


@api.method("processes/kill", ProcessKillParams, ProcessKillResult, "Signal a process's whole group (SIGTERM).")
async def processes_kill(p: ProcessKillParams, ctx: ClientContext) -> ProcessKillResult:
    proc = ctx.daemon.processes.get(p.process_id)
    sig = parse_signal(p.signal)
    return ProcessKillResult(process_id=proc.id, signal=sig.name, delivered=proc.kill(sig))


@api.method("processes/input", ProcessInputParams, ProcessInputResult, "Write to a process's stdin (eof closes it).")
async def processes_input(p: ProcessInputParams, ctx: ClientContext) -> ProcessInputResult:
    if p.data is not None and p.data_base64 is not None:
        raise AppError(ErrorKind.NOT_SUPPORTED, "give data or data_base64, not both")
    data = decode_base64(p.data_base64, "data_base64") if p.data_base64 is not None else (p.data or "").encode()
    proc = ctx.daemon.processes.get(p.process_id)
    return ProcessInputResult(bytes=await proc.write(data, p.eof))


@api.method("processes/output", ProcessOutputParams, ProcessOutputResult, "Kept output from a byte offset.")
async def processes_output(p: ProcessOutputParams, ctx: ClientContext) -> ProcessOutputResult:
    return ctx.daemon.processes.output(p.process_id, p.offset, p.limit, p.encoding)


@api.method(
    "processes/subscribe",
    ProcessSubscribeParams,
    ProcessSubscribeResult,
    "Stream output as processes/output notifications (and processes/exited) on this connection.",
)
async def processes_subscribe(p: ProcessSubscribeParams, ctx: ClientContext) -> ProcessSubscribeResult:
    if ctx.connection is None:
        raise AppError(
            ErrorKind.NOT_SUPPORTED, "subscriptions need a streaming transport: use the WebSocket or stdio"
        )
    sub_id = ctx.daemon.processes.subscribe(ctx.connection, p.process_id, p.offset, p.encoding)
    return ProcessSubscribeResult(subscription_id=sub_id)


@api.method("processes/unsubscribe", ProcessUnsubscribeParams, EmptyResult, "Stop a process output subscription.")
async def processes_unsubscribe(p: ProcessUnsubscribeParams, ctx: ClientContext) -> EmptyResult:
    await ctx.daemon.processes.unsubscribe(p.subscription_id)
    return EmptyResult()


@api.method("processes/limits", EmptyParams, ProcessLimitsResult, "The process limits set by the daemon's flags.")
async def processes_limits(p: EmptyParams, ctx: ClientContext) -> ProcessLimitsResult:
    mgr = ctx.daemon.processes
    return ProcessLimitsResult(
        max_processes=mgr.limits.max_processes,
        max_output_bytes=mgr.limits.max_output_bytes,
        max_timeout_s=mgr.limits.max_timeout_s,
        running=mgr.running,
    )
