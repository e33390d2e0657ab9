"""Contracts of the store: how much of a transcript a restore replays to a fresh agent."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReplayCaps(BaseModel):
    """Bounds of the replay that primes a fresh agent when a session is restored without its native state.

    The newest turns are kept whole; older turns are left out first (the Rust original pastes the last 50 raw
    events / 12,000 characters)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    max_chars: int = Field(60_000, ge=1_000, le=1_000_000, description="the whole replay")
    max_turns: int | None = Field(None, ge=1, description="at most this many newest turns")
    detail_chars: int = Field(2_000, ge=0, le=100_000, description="per tool result, command output or diff")
    include_reasoning: bool = Field(False, description="also the agent's visible reasoning")
