"""The result of `ops/status`: a running daemon in one object (what `sandbox-agent status` shows)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .usage import UsageTotals


class RunningTurn(BaseModel):
    model_config = ConfigDict(defer_build=True)

    session_id: str
    agent: str
    turn_id: str
    running_s: float | None = Field(default=None, description="seconds since it started, when known")


class StatusResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    version: str
    pid: int
    uptime_s: float
    address: dict[str, Any] = Field(default_factory=dict, description="socket, http: where the daemon listens")
    clients: int | None = None
    journal: str = Field(description="ok, ephemeral, or degraded: <error>")
    store: dict[str, Any] | None = Field(
        default=None, description="with --store: state, lag_rows (events not yet shipped), lag_seconds"
    )
    sessions: int
    sessions_by_status: dict[str, int]
    sessions_by_agent: dict[str, int]
    pending_permissions: int
    pending_questions: int
    oldest_pending_s: float | None = Field(default=None, description="how long the oldest request has waited")
    subscribers: int
    max_subscriber_lag: int = Field(description="events the furthest-behind subscriber has yet to receive")
    turns_started: int
    turns_ended: dict[str, int] = Field(description="stop reason -> turns, since the daemon started")
    running_turns: list[RunningTurn]
    usage: UsageTotals = Field(description="token and cost totals over every session")
    agents: list[dict[str, Any]] = Field(description="id, installed, version of each agent")
