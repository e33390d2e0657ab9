"""Operations methods on the API: `sessions/usage` (token and cost totals across sessions), `ops/status`."""

from __future__ import annotations

import asyncio

from ..ops.status import collect
from ..ops.usage import aggregate, merge_stored, stored_usage
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
    store_url = getattr(ctx.daemon, "store_url", None)
    if p.session_id is not None and manager.known(p.session_id):
        return aggregate([manager.get(p.session_id)], p)
    if p.session_id is not None and not store_url:
        manager.get(p.session_id)  # session_not_found
    local = manager.list() if p.session_id is None else []
    result = aggregate(local, p)
    if store_url:
        try:
            stored = await asyncio.to_thread(stored_usage, store_url, p, {*manager.sessions, *manager.parked})
        except Exception as exc:  # the store is optional: say what is missing instead of failing
            from ..store.shipper import scrub  # (imported here: the store's modules load psycopg)

            result.store_error = scrub(str(exc), store_url)
        else:
            merge_stored(result, stored)
    if p.session_id is not None and not result.sessions and result.store_error is None:
        manager.get(p.session_id)  # in neither place: session_not_found
    return result


@api.method("ops/status", EmptyParams, StatusResult, "The daemon on one screen: sessions, agents, pending, lag.")
async def ops_status(p: EmptyParams, ctx: ClientContext) -> StatusResult:
    return collect(ctx.daemon)
