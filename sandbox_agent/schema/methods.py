"""Params and results of every JSON-RPC method, and of the daemon's notifications."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .agents import AgentInfo
from .content import InputPart, TextPart
from .control import Delivery
from .events import QuestionData, SessionEndedData, StopReason
from .store import ReplayCaps
from .usage import UsageTotals

PermissionMode = Literal["default", "plan", "accept_edits", "bypass"]
SessionStatus = Literal["idle", "running", "awaiting_input", "ended"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class EmptyParams(_Params):
    pass


class EmptyResult(_Result):
    pass


class ClientInfo(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: str
    version: str | None = None


class ServerInfo(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: str
    version: str


class InitializeParams(_Params):
    client_info: ClientInfo | None = None


class InitializeResult(_Result):
    server_info: ServerInfo
    protocol_version: str
    agents: list[AgentInfo]


class AgentListResult(_Result):
    agents: list[AgentInfo]


class AgentInstallParams(_Params):
    agent: str
    version: str | None = None
    reinstall: bool = False


class AgentInstallResult(_Result):
    agent: str
    version: str | None
    path: str | None


class McpServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("an MCP server needs exactly one of 'command' (stdio) or 'url' (HTTP)")
        return self


class SessionCreateParams(_Params):
    session_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,128}$")
    agent: str
    cwd: str | None = None
    model: str | None = None
    agent_mode: str | None = None
    permission_mode: PermissionMode = "default"
    env: dict[str, str] | None = None
    mcp_servers: list[McpServerConfig] | None = None
    include_raw: bool = False
    hitl_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Reject a permission or question nobody answers within this many seconds "
        "(reason: timeout); default: the daemon's --hitl-timeout, which waits forever unless set.",
    )


class PendingPermission(BaseModel):
    model_config = ConfigDict(defer_build=True)

    permission_id: str
    action: str
    metadata: dict[str, Any] | None = None


class SessionInfo(_Result):
    session_id: str
    agent: str
    status: SessionStatus
    created_at: str
    cwd: str
    model: str | None = None
    agent_mode: str | None = None
    permission_mode: PermissionMode = "default"
    native_session_id: str | None = None
    event_count: int
    current_turn_id: str | None = None
    pending_permissions: list[PendingPermission] = Field(default_factory=list)
    pending_questions: list[QuestionData] = Field(default_factory=list)
    ended: SessionEndedData | None = None
    usage: UsageTotals | None = Field(
        default=None,
        description="token and cost totals of its turns; null for a session only the store holds (see sessions/usage)",
    )


class SessionIdParams(_Params):
    session_id: str


class ResumeParams(_Params):
    session_id: str
    env: dict[str, str] | None = Field(default=None, description="keys again: the journal never stores them")
    replay: ReplayCaps | None = Field(
        default=None, description="bounds of the replay when a session from the store cannot resume natively"
    )


class SendMessageParams(_Params):
    """A user message: either `content` parts or a plain `message` string."""

    session_id: str
    content: list[InputPart] | None = None
    message: str | None = None
    delivery: Delivery = Field(
        default="reject",
        description="while a turn runs: reject (session_busy), queue (runs next), steer (into the running turn)",
    )

    @model_validator(mode="after")
    def _one_body(self) -> SendMessageParams:
        if (self.content is None) == (self.message is None):
            raise ValueError("give exactly one of 'content' (a list of parts) or 'message' (a string)")
        if self.content is not None and not self.content:
            raise ValueError("'content' must not be empty")
        return self

    def parts(self) -> list[InputPart]:
        return self.content if self.content is not None else [TextPart(text=self.message or "")]


class SendMessageResult(_Result):
    turn_id: str
    message_id: str | None = None  # queue and steer deliveries
    outcome: Literal["started", "queued", "steered"] | None = None  # started: the session was idle, it ran at once
    position: int | None = None  # queue: 1 = runs next
    native: bool | None = None  # steer: injected by the agent itself (false: interrupted, then sent)


class PromptParams(SendMessageParams):
    timeout: float | None = Field(default=None, gt=0, description="seconds to wait for the turn to end")


class PromptResult(_Result):
    turn_id: str
    stop_reason: StopReason | None
    text: str


class EventsParams(_Params):
    session_id: str
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=1000)


class EventsResult(_Result):
    events: list[Any] = Field(description="UniversalEvent objects with sequence > offset")
    next_offset: int
    has_more: bool


class SubscribeParams(_Params):
    session_id: str
    offset: int = Field(default=0, ge=0)


class SubscribeResult(_Result):
    subscription_id: str


class UnsubscribeParams(_Params):
    subscription_id: str


class InterruptResult(_Result):
    interrupted: bool


PermissionReply = Literal["once", "always", "reject"]


class PermissionReplyParams(_Params):
    session_id: str
    permission_id: str
    reply: PermissionReply
    message: str | None = None


class QuestionReplyParams(_Params):
    session_id: str
    question_id: str
    answers: list[list[str]]


class QuestionRejectParams(_Params):
    session_id: str
    question_id: str


# Notifications (daemon -> client)


class SessionEventNotification(BaseModel):
    model_config = ConfigDict(defer_build=True)

    subscription_id: str
    event: Any


class SubscriptionClosedNotification(BaseModel):
    model_config = ConfigDict(defer_build=True)

    subscription_id: str
    reason: Literal["overflow", "session_ended", "unsubscribed"]
    resume_offset: int = Field(description="the last sequence delivered; subscribe again from here")


class InstallProgressNotification(BaseModel):
    model_config = ConfigDict(defer_build=True)

    agent: str
    phase: str
    bytes: int | None = None
    total: int | None = None
    message: str | None = None


class ForkResult(SessionInfo):
    """sessions/fork: the new session, where it was cut, and how (native fork, or replay in its first message)."""

    forked_from: str
    at_sequence: int
    fork: Literal["native", "replay"]
