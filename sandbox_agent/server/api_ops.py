"""Operations methods on the API: `sessions/usage` (token and cost totals across sessions), `ops/status`."""

from __future__ import annotations

from ..ops.status import collect
from ..ops.usage import aggregate
from ..schema.methods import EmptyParams
from ..schema.ops import StatusResult
from ..schema.usage import UsageParams, UsageResult
from .api import api
from .client_context import ClientContext


@api.method(
    "sessions/usage",
    UsageParams,
    UsageResult,
    "Token and cost totals from turn.ended usage: overall, by agent, by model and per session.",
)
async def sessions_usage(p: UsageParams, ctx: ClientContext) -> UsageResult:
    manager = ctx.daemon.sessions
    if p.session_id is not None:
        sessions = [manager.get(p.session_id)]  # session_not_found for an unknown id
    else:
        sessions = manager.list()
    return aggregate(sessions, p)


@api.method("ops/status", EmptyParams, StatusResult, "The daemon on one screen: sessions, agents, pending, lag.")
async def ops_status(p: EmptyParams, ctx: ClientContext) -> StatusResult:
    return collect(ctx.daemon)
