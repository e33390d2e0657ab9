"""Token and cost totals: per session (`SessionInfo.usage`) and across sessions (`sessions/usage`).

Totals are sums of the `usage` that agents report on `turn.ended`. Every translator reports the same meaning:
`input_tokens` counts every prompt token (cache reads and cache writes included), `cached_input_tokens` is the
part of it served from a cache, `reasoning_tokens` the part of `output_tokens` spent reasoning, and
`total_cost_usd` the turn's cost when the agent itself prices it (Claude Code and OpenCode do; Codex and Amp
do not, so their cost stays null rather than a guess).
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .events import Usage


class UsageTotals(BaseModel):
    """Sums over the turns that reported usage."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    turns: int = Field(default=0, description="turns whose turn.ended carried usage")
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    total_cost_usd: float | None = Field(default=None, description="null when no turn reported a cost")

    def add(self, u: Usage) -> None:
        self.turns += 1
        self.input_tokens += u.input_tokens or 0
        self.output_tokens += u.output_tokens or 0
        self.cached_input_tokens += u.cached_input_tokens or 0
        self.reasoning_tokens += u.reasoning_tokens or 0
        if u.total_cost_usd is not None:
            self.total_cost_usd = (self.total_cost_usd or 0.0) + u.total_cost_usd

    def merge(self, other: UsageTotals) -> None:
        self.turns += other.turns
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.reasoning_tokens += other.reasoning_tokens
        if other.total_cost_usd is not None:
            self.total_cost_usd = (self.total_cost_usd or 0.0) + other.total_cost_usd


class UsageParams(BaseModel):
    """With a store (`--store`), sessions that only the store holds (other daemons', older ones) count too."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    session_id: str | None = Field(default=None, description="only this session")
    agent: str | None = Field(default=None, description="only sessions on this agent")
    since: AwareDatetime | None = Field(
        default=None, description="only turns that ended at or after this time (RFC 3339, with a timezone)"
    )


class SessionUsage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    session_id: str
    agent: str
    model: str | None = None
    usage: UsageTotals


class UsageResult(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    total: UsageTotals
    by_agent: dict[str, UsageTotals] = Field(description="agent id -> totals")
    by_model: dict[str, UsageTotals] = Field(
        description="the model each turn names in its usage, else its session's model, else 'default' -> totals"
    )
    sessions: list[SessionUsage] = Field(description="one entry per matching session, oldest first")
    store_error: str | None = Field(
        default=None, description="why sessions that only the store holds are missing (the store is unreachable)"
    )
