"""Session control while it runs: delivery modes, the queue, configure and fork (params, results, event data).

The event data models here depend on content parts only, so `events.py` can list them in the UniversalEvent union
without an import cycle.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .content import InputPart

Delivery = Literal["reject", "queue", "steer"]
ControlPermissionMode = Literal["default", "plan", "accept_edits", "bypass"]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


# event data


class MessageQueuedData(_Data):
    """A user message waits for the running turn to end; it runs as turn `turn_id` (journaled: survives restarts)."""

    message_id: str
    turn_id: str = Field(description="the id the message's turn will have when it runs")
    content: list[InputPart]
    position: int = Field(ge=1, description="1 = runs next")


class MessageDequeuedData(_Data):
    """A queued message left the queue: it started its turn, was removed by a client, or was dropped."""

    message_id: str
    reason: Literal["delivered", "removed", "dropped"]
    turn_id: str | None = None
    message: str | None = None


class MessageSteeredData(_Data):
    """A message sent with delivery `steer`: injected into the running turn (`native`), or, where the agent cannot
    take it mid-turn, delivered by interrupting that turn and sending it as a new one (`fallback`)."""

    message_id: str
    turn_id: str = Field(description="the turn that carries the message")
    native: bool
    fallback: Literal["interrupt_then_send"] | None = None
    interrupted_turn_id: str | None = None
    note: str | None = None


ConfigureHow = Literal["live", "next_turn", "restart"]


class SessionConfiguredData(_Data):
    """Settings changed for the session's next turn; `how` says how the agent took them."""

    model: str | None = None
    agent_mode: str | None = None
    permission_mode: ControlPermissionMode | None = None
    how: ConfigureHow
    note: str | None = None


# methods


class QueuedMessage(_Result):
    message_id: str
    turn_id: str
    content: list[InputPart]
    position: int


class QueueResult(_Result):
    session_id: str
    messages: list[QueuedMessage]


class DequeueParams(_Params):
    session_id: str
    message_id: str


class DequeueResult(_Result):
    removed: QueuedMessage


class ConfigureParams(_Params):
    session_id: str
    model: str | None = Field(default=None, min_length=1, max_length=200)
    agent_mode: str | None = Field(default=None, min_length=1, max_length=100)
    permission_mode: ControlPermissionMode | None = None

    @model_validator(mode="after")
    def _something(self) -> ConfigureParams:
        if self.model is None and self.agent_mode is None and self.permission_mode is None:
            raise ValueError("give at least one of 'model', 'agent_mode', 'permission_mode'")
        return self


class ConfigureResult(_Result):
    session_id: str
    model: str | None = None
    agent_mode: str | None = None
    permission_mode: ControlPermissionMode
    how: ConfigureHow
    note: str | None = None


class ForkParams(_Params):
    session_id: str
    at_sequence: int | None = Field(
        default=None, ge=1, description="a turn boundary: the sequence of a turn.ended (default: the last one)"
    )
    new_session_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,128}$")
    env: dict[str, str] | None = Field(default=None, description="keys for the new session (default: the source's)")


ForkHow = Literal["native", "replay"]


class AgentControl(BaseModel):
    """How an agent takes control while a session runs (agents/list): native where the agent itself can."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    steer: Literal["native", "fallback"] = Field(
        default="fallback", description="native: into the running turn; fallback: interrupt, then send"
    )
    queue: Literal["daemon"] = Field(default="daemon", description="queued messages are held and journaled by us")
    fork: Literal["native", "replay"] = "replay"
    configure_model: ConfigureHow | Literal["no"] = "no"
    configure_permission_mode: ConfigureHow | Literal["no"] = "no"
    configure_agent_mode: ConfigureHow | Literal["no"] = "no"
