"""What the daemon counts where things happen: plain ints and floats in dicts, read at scrape time.

Everything that can be read from live state (sessions by status, events per session, subscribers, pending
requests) is read by the collector in `metrics.py` when `/v1/metrics` is scraped, so nothing is paid per
event. What cannot (a turn's duration, a commit's latency, how long a request waited) is recorded here with
one dict update or one bisect: no locks, no labels objects, no prometheus-client on the hot path (measured in
benchmarks/metrics_overhead.py; prometheus-client's own Counter.inc and Histogram.observe cost several times
more because they take a lock and look up label children). The daemon is single-threaded (one event loop).

`SANDBOX_AGENT_METRICS=off` turns every hook into an early return and `/v1/metrics` into a 404.
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from typing import Any

ENABLED = os.environ.get("SANDBOX_AGENT_METRICS", "on").strip().lower() not in ("0", "off", "false", "no")

TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
COMMIT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
WAIT_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
INSTALL_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Histogram:
    """Bucket counts (not cumulative) plus the sum; `counts[-1]` is the +Inf overflow bucket."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # first bound >= value: Prometheus' `le`
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)


def _hist(table: dict[Any, Histogram], key: Any, bounds: tuple[float, ...]) -> Histogram:
    h = table.get(key)
    if h is None:
        h = table[key] = Histogram(bounds)
    return h


class Stats:
    """One per process; the hooks below are the only writers."""

    def __init__(self, enabled: bool = ENABLED) -> None:
        self.enabled = enabled
        self.started_at = time.time()
        self.turns_started: dict[str, int] = {}
        self.turns_ended: dict[tuple[str, str], int] = {}  # (agent, stop_reason)
        self.turn_seconds: dict[str, Histogram] = {}  # agent
        # (agent, model) -> [input, output, cached_input, reasoning tokens, cost in USD]
        self.usage: dict[tuple[str, str], list[Any]] = {}
        self.journal_commit_seconds = Histogram(COMMIT_BUCKETS)
        self.journal_rows = 0
        self.events_delivered = 0
        self.subscription_overflows = 0
        self.hitl_requests: dict[str, int] = {}  # kind: permission | question
        self.hitl_wait_seconds: dict[tuple[str, str], Histogram] = {}  # (kind, outcome)
        self._hitl_open: dict[tuple[str, str], tuple[str, float]] = {}  # (session, request id) -> (kind, t0)
        self.agent_starts: dict[tuple[str, str], int] = {}  # (agent, "true"|"false" resumed)
        self.agent_crashes: dict[str, int] = {}
        self.install_seconds: dict[tuple[str, str], Histogram] = {}  # (agent, outcome)

    # turns

    def turn_started(self, agent: str) -> None:
        if self.enabled:
            self.turns_started[agent] = self.turns_started.get(agent, 0) + 1

    def turn_ended(self, agent: str, model: str | None, stop_reason: str | None, seconds: float, usage: Any) -> None:
        """`usage` is the turn's `Usage` (or None): tokens and cost are counted per agent and model."""
        if not self.enabled:
            return
        key = (agent, stop_reason or "none")
        ended = self.turns_ended
        ended[key] = ended.get(key, 0) + 1
        h = self.turn_seconds.get(agent)
        if h is None:
            h = self.turn_seconds[agent] = Histogram(TURN_BUCKETS)
        h.observe(seconds)
        if usage is not None:
            k = (agent, usage.model or model or "default")  # the model the agent names, else the session's
            sums = self.usage.get(k)
            if sums is None:
                sums = self.usage[k] = [0, 0, 0, 0, 0.0]
            sums[0] += usage.input_tokens or 0
            sums[1] += usage.output_tokens or 0
            sums[2] += usage.cached_input_tokens or 0
            sums[3] += usage.reasoning_tokens or 0
            sums[4] += usage.total_cost_usd or 0.0

    # the journal and delivery

    def journal_committed(self, seconds: float, rows: int) -> None:
        if self.enabled:
            self.journal_commit_seconds.observe(seconds)
            self.journal_rows += rows

    def delivered(self, events: int) -> None:
        if self.enabled:
            self.events_delivered += events

    def overflowed(self) -> None:
        if self.enabled:
            self.subscription_overflows += 1

    # human in the loop

    def hitl_requested(self, session_id: str, kind: str, request_id: str) -> None:
        if self.enabled:
            self.hitl_requests[kind] = self.hitl_requests.get(kind, 0) + 1
            self._hitl_open[(session_id, request_id)] = (kind, time.monotonic())

    def hitl_resolved(self, session_id: str, request_id: str, outcome: str) -> None:
        if not self.enabled:
            return
        opened = self._hitl_open.pop((session_id, request_id), None)
        if opened is not None:
            kind, t0 = opened
            _hist(self.hitl_wait_seconds, (kind, outcome), WAIT_BUCKETS).observe(time.monotonic() - t0)

    def oldest_open_request_s(self) -> float | None:
        """Seconds the longest-waiting open permission or question has waited (None: none open)."""
        if not self._hitl_open:
            return None
        return time.monotonic() - min(t0 for _, t0 in self._hitl_open.values())

    # agent processes and installs

    def agent_started(self, agent: str, resumed: bool) -> None:
        if self.enabled:
            key = (agent, "true" if resumed else "false")
            self.agent_starts[key] = self.agent_starts.get(key, 0) + 1

    def agent_crashed(self, agent: str) -> None:
        if self.enabled:
            self.agent_crashes[agent] = self.agent_crashes.get(agent, 0) + 1

    def install_finished(self, agent: str, seconds: float, outcome: str) -> None:
        if self.enabled:
            _hist(self.install_seconds, (agent, outcome), INSTALL_BUCKETS).observe(seconds)


def store_status(daemon: Any) -> dict[str, Any] | None:
    """The store shipper's figures (state, lag_rows, lag_seconds), when the daemon has a store."""
    status = getattr(daemon, "store_status", None)
    if not callable(status):
        return None
    try:
        value = status()
    except Exception:
        return None
    return value if isinstance(value, dict) else None


STATS = Stats()
