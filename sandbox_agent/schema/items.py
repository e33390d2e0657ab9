"""UniversalItem: one message, tool call, command, file change... in any agent's transcript."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .content import ContentPart

ItemKind = Literal[
    "message",
    "tool_call",
    "tool_result",
    "reasoning",
    "command",
    "file_change",
    "system",
    "status",
    "unknown",
]
ItemRole = Literal["user", "assistant", "system", "tool"]
ItemStatus = Literal["in_progress", "completed", "failed"]


class UniversalItem(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    item_id: str
    native_item_id: str | None = None
    parent_id: str | None = None
    kind: ItemKind
    role: ItemRole | None = None
    status: ItemStatus = "in_progress"
    content: list[ContentPart] = Field(default_factory=list)
