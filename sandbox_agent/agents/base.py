"""How an agent plugs in: a driver per agent kind (shared state, sessions factory) and a session per daemon session.

A driver fits both process models: Claude Code and Amp start one process per `AgentSession`; Codex and OpenCode
keep one shared server inside the driver and give each `AgentSession` a thread or session on it. Adapters only
emit universal events into their `EventSink`; sequence numbers, storage, fan-out, turn bookkeeping and HITL
bookkeeping live in `sessions/` once for every agent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from ..rpc.errors import AppError
from ..schema.agents import AgentCapabilities, AgentInfo
from ..schema.content import InputPart
from ..schema.control import AgentControl, ConfigureHow
from ..schema.errors import ErrorKind
from ..schema.methods import McpServerConfig, PermissionMode, PermissionReply

ProgressCallback = Callable[[str, int | None, int | None], None]


class EventSink(Protocol):
    """Where an adapter's universal events go (the daemon's Session)."""

    @property
    def session_id(self) -> str: ...

    def emit(self, type_: str, data: BaseModel, *, synthetic: bool = False, raw: Any = None) -> None: ...

    def set_native_session_id(self, native_id: str) -> None: ...


@dataclass
class ForkPoint:
    """Where a new session forks off an existing one (sessions/fork), in the source's native terms."""

    source_session_id: str
    source_native_id: str
    turns: int  # daemon turns kept (those that reached the agent)
    user_messages: int  # user messages the agent got in those turns (turns plus native steers)
    whole: bool  # the fork keeps the source's whole history


@dataclass
class SessionConfig:
    session_id: str
    agent: str
    cwd: str
    model: str | None = None
    agent_mode: str | None = None
    permission_mode: PermissionMode = "default"
    env: dict[str, str] = field(default_factory=dict)
    mcp_servers: list[McpServerConfig] = field(default_factory=list)
    include_raw: bool = False
    resume_native_id: str | None = None  # set when continuing an earlier native session
    state_dir: Path | None = None  # a private folder for this session's agent home and config (survives restarts)
    fork: ForkPoint | None = None  # start as a native fork of another session (the driver's can_fork said yes)


class AgentSession(ABC):
    """One daemon session's handle on its agent. Every method may assume the session is not ended."""

    def __init__(self, config: SessionConfig, sink: EventSink) -> None:
        self.config = config
        self.sink = sink

    @abstractmethod
    async def start(self) -> None:
        """Start (or attach to) the agent so the first turn is warm; emit `session.started` details if any."""

    @abstractmethod
    async def send(self, turn_id: str, content: list[InputPart]) -> None:
        """Hand one user message to the agent; return once it is accepted (the turn runs on)."""

    @abstractmethod
    async def interrupt(self) -> None:
        """Cancel the running turn; the agent must emit `turn.ended` (stop_reason interrupted) and stay usable."""

    @abstractmethod
    async def reply_permission(self, permission_id: str, reply: PermissionReply, message: str | None) -> None:
        """Deliver a permission decision to the agent."""

    @abstractmethod
    async def reply_question(self, question_id: str, answers: list[list[str]] | None) -> None:
        """Deliver answers to a question (None rejects it)."""

    @abstractmethod
    async def terminate(self) -> None:
        """Stop the agent for this session and wait until it is gone."""

    async def steer(self, content: list[InputPart]) -> bool:
        """Put a user message into the running turn; False when the agent cannot (the daemon then interrupts and
        sends it as a new turn)."""
        return False

    async def configure(
        self, model: str | None, agent_mode: str | None, permission_mode: PermissionMode | None
    ) -> ConfigureHow:
        """Change settings for the next turn (called while no turn runs); update `self.config` and say how the
        agent took it: live (now), next_turn (sent with the next message) or restart (a new process, resumed)."""
        raise AppError(ErrorKind.NOT_SUPPORTED, f"{self.config.agent} sessions cannot change settings while they run")


class AgentDriver(ABC):
    """One agent kind inside this daemon."""

    id: ClassVar[str]
    name: ClassVar[str]
    capabilities: ClassVar[AgentCapabilities]
    modes: ClassVar[list[str] | None] = None
    control: ClassVar[AgentControl] = AgentControl()
    agent_modes: ClassVar[list[str]] = []  # what sessions/configure accepts as agent_mode (empty: the agent has none)

    @abstractmethod
    def info(self) -> AgentInfo:
        """Install state, version, path and the coverage map."""

    @abstractmethod
    async def install(self, version: str | None, reinstall: bool, progress: ProgressCallback) -> AgentInfo:
        """Make the agent runnable (a no-op for built-ins)."""

    async def prepare(self, progress: ProgressCallback) -> None:  # noqa: B027 - optional hook
        """Make sure the agent can start (installs it on demand); called before every new session."""

    @abstractmethod
    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        """A new, not yet started, session handle."""

    def can_fork(self, point: ForkPoint) -> bool:
        """Whether a session opened with `config.fork = point` starts as a native fork (else the daemon replays)."""
        return False

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op for per-session process models
        """Stop shared processes when the daemon stops."""
