"""Usage and cost per session, and across sessions for `sessions/usage`.

Each session owns a `UsageLedger`: the usage of each of its turns (time, Usage), summed from `turn.ended`.
The session adds a turn when its `turn.ended` passes `Session.emit` (once per turn, never per event). A session
restored from the journal starts with a backfill mark: on first use the ledger reads the turn.ended events
journaled before this daemon started (a bytes test skips every other event without parsing it).
A ledger without a session hook (`hooked=False`) catches up from the log on every read instead.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from ..schema.events import Usage
from ..schema.usage import SessionUsage, UsageParams, UsageResult, UsageTotals

PAGE = 1000
_TURN_ENDED = b'"type":"turn.ended"'
_fallback: weakref.WeakKeyDictionary[Any, UsageLedger] = weakref.WeakKeyDictionary()


def _rfc3339(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class UsageLedger:
    """The usage of one session's turns, in order."""

    __slots__ = ("_scanned", "_upto", "hooked", "totals", "turns")

    def __init__(self, backfill_upto: int = 0, hooked: bool = True) -> None:
        self.turns: list[tuple[float, Usage]] = []
        self.totals = UsageTotals()
        self._scanned = 0  # events read from the log so far
        self._upto = backfill_upto  # read the log up to here before trusting the hook
        self.hooked = hooked

    def add(self, usage: Usage | None, at: float | None = None) -> None:
        """A turn ended (called by the session as its turn.ended is emitted)."""
        if usage is not None:
            self.turns.append((time.time() if at is None else at, usage))
            self.totals.add(usage)

    def _catch_up(self, log: Any) -> None:
        upto = log.visible_seq if not self.hooked else self._upto
        backfilled: list[tuple[float, Usage]] = []
        while self._scanned < upto:
            page = log.read(self._scanned, min(PAGE, upto - self._scanned))
            if not page:
                break
            self._scanned += len(page)
            for body in page:
                if _TURN_ENDED in body:
                    event = orjson.loads(body)
                    raw = (event.get("data") or {}).get("usage")
                    if isinstance(raw, dict):
                        backfilled.append((_rfc3339(event["time"]), Usage.model_validate(raw)))
        if backfilled:
            if self.hooked:  # restored turns come before any the hook added since the daemon started
                self.turns[:0] = backfilled
            else:
                self.turns += backfilled
            for _, u in backfilled:
                self.totals.add(u)

    def backfill_to(self, seq: int) -> None:
        """Events up to `seq` were put into the log without passing the hook (a session imported from the store)."""
        self._upto = max(self._upto, seq)

    def read(self, log: Any) -> UsageLedger:
        if self._scanned < (self._upto if self.hooked else log.visible_seq):
            self._catch_up(log)
        return self


def ledger_of(session: Any) -> UsageLedger:
    """The session's own ledger, or one kept beside it for a session type that does not keep one."""
    ledger = getattr(session, "usage", None)
    if isinstance(ledger, UsageLedger):
        return ledger.read(session.log)
    ledger = _fallback.get(session)
    if ledger is None:
        ledger = _fallback[session] = UsageLedger(hooked=False)
    return ledger.read(session.log)


def session_totals(session: Any) -> UsageTotals:
    return ledger_of(session).totals.model_copy()


def aggregate(sessions: Iterable[Any], params: UsageParams) -> UsageResult:
    """Totals over the matching sessions: overall, by agent, by model, and per session."""
    since = params.since.timestamp() if params.since is not None else None
    total = UsageTotals()
    by_agent: dict[str, UsageTotals] = {}
    by_model: dict[str, UsageTotals] = {}
    rows: list[SessionUsage] = []
    for session in sessions:
        record = session.record
        if params.session_id is not None and record.session_id != params.session_id:
            continue
        if params.agent is not None and record.agent != params.agent:
            continue
        ledger = ledger_of(session)
        usage = UsageTotals()
        for at, u in ledger.turns:
            if since is None or at >= since:
                usage.add(u)
                # per turn: the model the agent named for it, else the session's
                by_model.setdefault(u.model or record.model or "default", UsageTotals()).add(u)
        rows.append(SessionUsage(session_id=record.session_id, agent=record.agent, model=record.model, usage=usage))
        total.merge(usage)
        by_agent.setdefault(record.agent, UsageTotals()).merge(usage)
    return UsageResult(total=total, by_agent=by_agent, by_model=by_model, sessions=rows)


# sessions that live in the store (PostgreSQL) only: summed by the database from their turn.ended rows

_USAGE = "e.body->'data'->'usage'"
STORED_USAGE_SQL = f"""
SELECT e.session_id, min(e.agent), min(s.record->>'model'),
  count(*) FILTER (WHERE {_USAGE} IS NOT NULL),
  COALESCE(sum(({_USAGE}->>'input_tokens')::bigint), 0),
  COALESCE(sum(({_USAGE}->>'output_tokens')::bigint), 0),
  COALESCE(sum(({_USAGE}->>'cached_input_tokens')::bigint), 0),
  COALESCE(sum(({_USAGE}->>'reasoning_tokens')::bigint), 0),
  sum(({_USAGE}->>'total_cost_usd')::float8)
FROM events e LEFT JOIN sessions s ON s.session_id = e.session_id
WHERE e.type = 'turn.ended' AND NOT (e.session_id = ANY(%s)) {{filters}}
GROUP BY e.session_id
ORDER BY min(e.time), e.session_id
"""


def stored_usage(url: str, params: UsageParams, local: set[str]) -> list[SessionUsage]:
    """Per-session totals of the store's sessions that this daemon does not hold (blocking: run in a thread)."""
    from ..store import Store

    filters, args = [], []
    if params.session_id is not None:
        filters.append("AND e.session_id = %s")
        args.append(params.session_id)
    if params.agent is not None:
        filters.append("AND e.agent = %s")
        args.append(params.agent)
    if params.since is not None:
        filters.append("AND e.time >= %s")
        args.append(params.since)
    sql = STORED_USAGE_SQL.format(filters=" ".join(filters))
    with Store(url) as store:
        rows = store._read(sql, (sorted(local), *args))  # the reader's one connection, schema checks and lock
    return [
        SessionUsage(
            session_id=sid,
            agent=agent,
            model=model,
            usage=UsageTotals(
                turns=turns,
                input_tokens=inp,
                output_tokens=out,
                cached_input_tokens=cached,
                reasoning_tokens=reasoning,
                total_cost_usd=cost,
            ),
        )
        for sid, agent, model, turns, inp, out, cached, reasoning, cost in rows
    ]


def merge_stored(result: UsageResult, stored: list[SessionUsage]) -> UsageResult:
    for row in stored:
        result.sessions.append(row)
        result.total.merge(row.usage)
        result.by_agent.setdefault(row.agent, UsageTotals()).merge(row.usage)
        result.by_model.setdefault(row.model or "default", UsageTotals()).merge(row.usage)
    return result
