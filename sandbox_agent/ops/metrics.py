"""`GET /v1/metrics`: the Prometheus text exposition of one daemon, built by prometheus-client at scrape time.

A custom collector reads the daemon's live state (sessions, event logs, subscribers, pending requests, the
journal) and the counters in `stats.STATS` only when scraped; nothing here runs per event. The daemon object
is read duck-typed (`sessions`, `journal`, `clients`, `store`) so this module imports nothing from the
server or the session layer.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from .. import __version__
from .stats import STATS, Histogram, Stats, store_status

P = "sandbox_agent_"
TOKEN_KINDS = ("input", "output", "cached_input", "reasoning")  # the order of Stats.usage sums
_registries: weakref.WeakKeyDictionary[Any, CollectorRegistry] = weakref.WeakKeyDictionary()


def _histogram(name: str, doc: str, labels: list[str], table: dict[Any, Histogram]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=labels)
    for key, h in sorted(table.items()):
        values = list(key) if isinstance(key, tuple) else [key]
        family.add_metric(values, _buckets(h), h.sum)
    return family


def _buckets(h: Histogram) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    running = 0
    for bound, n in zip(h.bounds, h.counts, strict=False):
        running += n
        out.append((repr(float(bound)), running))
    out.append(("+Inf", running + h.counts[-1]))
    return out


def _counter(name: str, doc: str, labels: list[str], table: dict[Any, Any]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in sorted(table.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
    return family


def _gauge(name: str, doc: str, labels: list[str], table: dict[Any, Any]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in sorted(table.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
    return family


class DaemonCollector(Collector):
    """Everything about one daemon, computed when Prometheus asks."""

    def __init__(self, daemon: Any, stats: Stats = STATS) -> None:
        self._daemon = weakref.ref(daemon)
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        daemon = self._daemon()
        s = self.stats
        yield _gauge(P + "info", "Daemon version (always 1)", ["version"], {__version__: 1})
        yield GaugeMetricFamily(P + "start_time_seconds", "When this daemon process started (unix time)", s.started_at)
        if daemon is not None:
            yield from self._live(daemon)
        yield _counter(P + "turns_started", "Turns started", ["agent"], s.turns_started)
        yield _counter(P + "turns_ended", "Turns ended, by stop reason", ["agent", "stop_reason"], s.turns_ended)
        yield _histogram(P + "turn_duration_seconds", "Turn wall time, send to turn.ended", ["agent"], s.turn_seconds)
        tokens: dict[tuple[str, str, str], int] = {}
        cost: dict[tuple[str, str], float] = {}
        for (agent, model), sums in s.usage.items():
            for kind, value in zip(TOKEN_KINDS, sums, strict=False):
                tokens[(agent, model, kind)] = value
            cost[(agent, model)] = sums[4]
        yield _counter(P + "tokens", "Tokens reported on turn.ended", ["agent", "model", "kind"], tokens)
        yield _counter(P + "cost_usd", "Cost reported by the agents, in US dollars", ["agent", "model"], cost)
        yield _counter(P + "journal_events", "Events this process committed to the journal", [], {(): s.journal_rows})
        yield _histogram(P + "journal_commit_seconds", "Journal commit latency", [], {(): s.journal_commit_seconds})
        yield _counter(P + "events_delivered", "Events delivered to subscribers", [], {(): s.events_delivered})
        yield _counter(
            P + "subscription_overflows", "Subscriptions closed for lagging too far", [], {(): s.subscription_overflows}
        )
        yield _counter(P + "hitl_requests", "Permission and question requests", ["kind"], s.hitl_requests)
        yield _histogram(
            P + "hitl_wait_seconds", "Time from request to resolution", ["kind", "outcome"], s.hitl_wait_seconds
        )
        yield _counter(
            P + "agent_starts", "Agent sessions started (resumed=true: restarts)", ["agent", "resumed"], s.agent_starts
        )
        yield _counter(P + "agent_crashes", "Agents that ended a session with an error", ["agent"], s.agent_crashes)
        yield _histogram(
            P + "install_duration_seconds", "Agent installs from npm", ["agent", "outcome"], s.install_seconds
        )

    def _live(self, daemon: Any) -> Iterator[Metric]:
        manager = getattr(daemon, "manager", None)
        sessions = list(manager.sessions.values()) if manager is not None else []
        by_status: dict[tuple[str, str], int] = {}
        events: dict[str, int] = {}
        pending = {"permission": 0, "question": 0}
        subscribers = 0
        lag = 0
        for session in sessions:
            agent = session.record.agent
            key = (agent, session.status)
            by_status[key] = by_status.get(key, 0) + 1
            log = session.log
            events[agent] = events.get(agent, 0) + log.last_seq
            pending["permission"] += len(session.hitl.permissions)
            pending["question"] += len(session.hitl.questions)
            subscribers += len(log.subscribers)
            for sub in log.subscribers:
                lag = max(lag, log.visible_seq - sub.cursor)
        for parked in manager.parked.values() if manager is not None else ():  # ended, unused: counts only
            by_status[(parked.agent, "ended")] = by_status.get((parked.agent, "ended"), 0) + 1
            events[parked.agent] = events.get(parked.agent, 0) + parked.last_seq
        yield _gauge(P + "sessions", "Sessions in this daemon, by agent and status", ["agent", "status"], by_status)
        yield _gauge(P + "session_events", "Events in this daemon's sessions (last sequences)", ["agent"], events)
        yield _gauge(P + "hitl_pending", "Requests waiting for an answer", ["kind"], pending)
        yield GaugeMetricFamily(P + "subscribers", "Live event subscriptions", subscribers)
        yield GaugeMetricFamily(P + "subscriber_lag_events", "Largest distance of a subscriber behind its log", lag)
        clients = getattr(daemon, "clients", None)
        if isinstance(clients, int):
            yield GaugeMetricFamily(P + "clients", "Clients attached to the daemon", clients)
        journal = getattr(daemon, "journal", None)
        if journal is not None:
            degraded = 0 if journal.error is None else 1
            yield GaugeMetricFamily(P + "journal_degraded", "1 while journal writes fail", degraded)
        store = store_status(daemon)
        if store is not None:
            yield GaugeMetricFamily(P + "store_up", "1 while the store takes rows", int(store.get("state") == "ok"))
            yield GaugeMetricFamily(
                P + "store_outbox_lag_events", "Events journaled, not yet in the store", store.get("lag_rows") or 0
            )
            yield GaugeMetricFamily(
                P + "store_outbox_lag_seconds", "Age of the oldest unshipped event", store.get("lag_seconds") or 0
            )


def registry_for(daemon: Any) -> CollectorRegistry:
    registry = _registries.get(daemon)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(DaemonCollector(daemon))
        ProcessCollector(namespace="sandbox_agent", registry=registry)
        PlatformCollector(registry=registry)
        _registries[daemon] = registry
    return registry


def render(daemon: Any) -> tuple[bytes, str]:
    """The exposition body and its content type."""
    return generate_latest(registry_for(daemon)), CONTENT_TYPE_LATEST
