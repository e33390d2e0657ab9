"""UniversalEvent: the envelope and the data of every event type, whatever the agent."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .control import MessageDequeuedData, MessageQueuedData, MessageSteeredData, SessionConfiguredData
from .items import UniversalItem


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class StderrSummary(_Data):
    """The head and tail of what an agent process wrote to stderr."""

    head: str
    tail: str
    truncated: bool
    total_lines: int


class SessionStartedData(_Data):
    metadata: dict[str, Any] | None = None
    resumed: bool | None = None  # sessions/resume of a session from the store: it continues here
    restored: bool | None = None  # ... with the agent's native state put back (true) or primed by a replay (false)
    forked_from: str | None = None  # sessions/fork: the source session and the turn boundary it was cut at
    at_sequence: int | None = None


class SessionEndedData(_Data):
    reason: Literal["completed", "error", "terminated"]
    terminated_by: Literal["agent", "daemon"]
    message: str | None = None
    exit_code: int | None = None
    stderr: StderrSummary | None = None


class Usage(_Data):
    model: str | None = None  # the model that did the turn's work, when the agent says (else the session's)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_cost_usd: float | None = None


class TurnStartedData(_Data):
    turn_id: str


StopReason = Literal["end_turn", "interrupted", "error", "max_tokens", "refusal", "cancelled"]


class TurnEndedData(_Data):
    turn_id: str
    stop_reason: StopReason | None = None
    usage: Usage | None = None


class ItemData(_Data):
    item: UniversalItem


class ItemDeltaData(_Data):
    item_id: str
    delta: str


PermissionStatus = Literal["requested", "accept", "accept_for_session", "reject"]


class PermissionData(_Data):
    permission_id: str
    action: str
    status: PermissionStatus
    metadata: dict[str, Any] | None = None
    message: str | None = None
    reason: str | None = None  # "timeout" when the daemon's HITL policy answered for nobody


class QuestionOption(_Data):
    label: str
    description: str | None = None


class Question(_Data):
    prompt: str
    header: str | None = None
    options: list[QuestionOption] = Field(default_factory=list)
    multi_select: bool = False


QuestionStatus = Literal["requested", "answered", "rejected"]


class QuestionData(_Data):
    """`prompt`/`options` describe the first question; `questions` lists all of them."""

    question_id: str
    prompt: str
    options: list[str] = Field(default_factory=list)
    status: QuestionStatus
    questions: list[Question] | None = None
    response: list[list[str]] | None = None
    reason: str | None = None  # "timeout" when the daemon's HITL policy answered for nobody


class ErrorData(_Data):
    message: str
    code: str | None = None
    details: Any = None


class AgentUnparsedData(_Data):
    error: str
    location: str
    raw_hash: str | None = None


EventSource = Literal["agent", "daemon"]


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    event_id: str
    sequence: int = Field(ge=1, description="1, 2, 3 ... per session, no gaps")
    time: str = Field(description="RFC 3339 UTC timestamp")
    session_id: str
    native_session_id: str | None = None
    source: EventSource
    synthetic: bool = False
    raw: Any = None


class SessionStartedEvent(_Envelope):
    type: Literal["session.started"]
    data: SessionStartedData


class SessionEndedEvent(_Envelope):
    type: Literal["session.ended"]
    data: SessionEndedData


class TurnStartedEvent(_Envelope):
    type: Literal["turn.started"]
    data: TurnStartedData


class TurnEndedEvent(_Envelope):
    type: Literal["turn.ended"]
    data: TurnEndedData


class ItemStartedEvent(_Envelope):
    type: Literal["item.started"]
    data: ItemData


class ItemDeltaEvent(_Envelope):
    type: Literal["item.delta"]
    data: ItemDeltaData


class ItemCompletedEvent(_Envelope):
    type: Literal["item.completed"]
    data: ItemData


class PermissionRequestedEvent(_Envelope):
    type: Literal["permission.requested"]
    data: PermissionData


class PermissionResolvedEvent(_Envelope):
    type: Literal["permission.resolved"]
    data: PermissionData


class QuestionRequestedEvent(_Envelope):
    type: Literal["question.requested"]
    data: QuestionData


class QuestionResolvedEvent(_Envelope):
    type: Literal["question.resolved"]
    data: QuestionData


class ErrorEvent(_Envelope):
    type: Literal["error"]
    data: ErrorData


class AgentUnparsedEvent(_Envelope):
    type: Literal["agent.unparsed"]
    data: AgentUnparsedData


class MessageQueuedEvent(_Envelope):
    type: Literal["message.queued"]
    data: MessageQueuedData


class MessageDequeuedEvent(_Envelope):
    type: Literal["message.dequeued"]
    data: MessageDequeuedData


class MessageSteeredEvent(_Envelope):
    type: Literal["message.steered"]
    data: MessageSteeredData


class SessionConfiguredEvent(_Envelope):
    type: Literal["session.configured"]
    data: SessionConfiguredData


UniversalEvent = Annotated[
    SessionStartedEvent
    | SessionEndedEvent
    | TurnStartedEvent
    | TurnEndedEvent
    | ItemStartedEvent
    | ItemDeltaEvent
    | ItemCompletedEvent
    | PermissionRequestedEvent
    | PermissionResolvedEvent
    | QuestionRequestedEvent
    | QuestionResolvedEvent
    | ErrorEvent
    | AgentUnparsedEvent
    | MessageQueuedEvent
    | MessageDequeuedEvent
    | MessageSteeredEvent
    | SessionConfiguredEvent,
    Field(discriminator="type"),
]

EventType = Literal[
    "session.started",
    "session.ended",
    "turn.started",
    "turn.ended",
    "item.started",
    "item.delta",
    "item.completed",
    "permission.requested",
    "permission.resolved",
    "question.requested",
    "question.resolved",
    "error",
    "agent.unparsed",
    "message.queued",
    "message.dequeued",
    "message.steered",
    "session.configured",
]

EVENT_DATA: dict[str, type[BaseModel]] = {
    "session.started": SessionStartedData,
    "session.ended": SessionEndedData,
    "turn.started": TurnStartedData,
    "turn.ended": TurnEndedData,
    "item.started": ItemData,
    "item.delta": ItemDeltaData,
    "item.completed": ItemData,
    "permission.requested": PermissionData,
    "permission.resolved": PermissionData,
    "question.requested": QuestionData,
    "question.resolved": QuestionData,
    "error": ErrorData,
    "agent.unparsed": AgentUnparsedData,
    "message.queued": MessageQueuedData,
    "message.dequeued": MessageDequeuedData,
    "message.steered": MessageSteeredData,
    "session.configured": SessionConfiguredData,
}

# built on first use: the daemon itself never validates events with it (clients and tests do)
universal_event_adapter: TypeAdapter[UniversalEvent] = TypeAdapter(UniversalEvent, config=ConfigDict(defer_build=True))


def events_json_schema() -> dict[str, Any]:
    """The JSON Schema of UniversalEvent, as published in docs/."""
    schema = universal_event_adapter.json_schema(ref_template="#/$defs/{model}")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "UniversalEvent"
    return schema
