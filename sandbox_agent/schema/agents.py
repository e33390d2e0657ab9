"""What the daemon says about an agent: install state and honest feature coverage."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from .control import AgentControl

Coverage = Literal["yes", "no", "partial"]


class AgentCapabilities(BaseModel):
    """The coverage matrix: one cell per feature, as the agent itself can do it through its adapter."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    text: Coverage = "no"
    streaming_deltas: Coverage = "no"
    tool_calls: Coverage = "no"
    tool_results: Coverage = "no"
    questions: Coverage = "no"
    permissions: Coverage = "no"
    images: Coverage = "no"
    file_attachments: Coverage = "no"
    lifecycle: Coverage = "no"
    errors: Coverage = "no"
    reasoning: Coverage = "no"
    command_execution: Coverage = "no"
    file_changes: Coverage = "no"
    mcp_tools: Coverage = "no"
    interrupt: Coverage = "no"
    resume: Coverage = "no"


class AgentInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    id: str
    name: str
    installed: bool
    version: str | None = None
    path: str | None = None
    capabilities: AgentCapabilities
    models: list[str] | None = None
    modes: list[str] | None = None
    control: AgentControl | None = None  # steer native or not, fork native or replay, what configure changes
