"""Drivers for agents that speak ACP: npm-installed ones (Gemini CLI, pi) and any ACP command a user names.

Users add an ACP agent without code through `SANDBOX_AGENT_ACP_AGENTS`, a JSON object
`{"<id>": {"name": "...", "command": ["argv", ...], "env": {...}}}` read when the daemon starts.
"""

from __future__ import annotations

import json
import logging
import os
from abc import abstractmethod

from ...rpc.errors import AppError
from ...schema.agents import AgentCapabilities, AgentInfo
from ...schema.errors import ErrorKind
from ..base import AgentDriver, AgentSession, EventSink, ProgressCallback, SessionConfig
from ..env import child_env
from ..npm_agent import NpmAgentDriver
from .launch import AcpLaunch

log = logging.getLogger(__name__)

ENV_VAR = "SANDBOX_AGENT_ACP_AGENTS"

# What the generic adapter itself can carry for any ACP agent; each agent's driver says what it really does.
GENERIC_CAPABILITIES = AgentCapabilities(
    text="yes",
    streaming_deltas="yes",
    tool_calls="yes",
    tool_results="yes",
    questions="no",  # ACP has no agent-to-client question request
    permissions="yes",
    images="partial",  # when the agent advertises promptCapabilities.image
    file_attachments="partial",  # as resource links
    lifecycle="yes",
    errors="yes",
    reasoning="yes",
    command_execution="yes",
    file_changes="yes",
    mcp_tools="partial",  # passed in session/new; whether they run is up to the agent
    interrupt="yes",
    resume="partial",  # when the agent advertises loadSession or sessionCapabilities.resume
)


class NpmAcpDriver(NpmAgentDriver):
    """An ACP agent installed from npm; subclasses say how to launch it."""

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        installed = self.installer.installed(self.id)
        if installed is None:
            hint = f"run `sandbox-agent install-agent {self.id}`"
            raise AppError(ErrorKind.AGENT_NOT_INSTALLED, f"{self.id} is not installed: {hint}")
        from .adapter import AcpSession  # the acp library loads with the first ACP session

        return AcpSession(config, sink, self.launch(installed.command, config))

    @abstractmethod
    def launch(self, command: list[str], config: SessionConfig) -> AcpLaunch:
        """argv and environment for one session's agent process."""


class CommandAcpDriver(AgentDriver):
    """Any ACP agent by its command line (not installed by us)."""

    capabilities = GENERIC_CAPABILITIES

    def __init__(self, agent_id: str, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.id = agent_id  # type: ignore[misc]
        self.name = name  # type: ignore[misc]
        self.command = command
        self.env = env or {}

    def info(self) -> AgentInfo:
        return AgentInfo(
            id=self.id, name=self.name, installed=True, path=self.command[0], capabilities=self.capabilities
        )

    async def install(self, version: str | None, reinstall: bool, progress: ProgressCallback) -> AgentInfo:
        return self.info()

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        env = child_env({**self.env, **config.env})
        from .adapter import AcpSession

        return AcpSession(config, sink, AcpLaunch(list(self.command), env, name=self.id))


def drivers_from_env() -> list[AgentDriver]:
    """The ACP agents configured in `SANDBOX_AGENT_ACP_AGENTS` (a bad entry is logged and skipped)."""
    raw = os.environ.get(ENV_VAR)
    if not raw:
        return []
    try:
        spec = json.loads(raw)
    except ValueError as exc:
        log.error("%s is not JSON (%s); no extra ACP agents", ENV_VAR, exc)
        return []
    out: list[AgentDriver] = []
    for agent_id, entry in (spec.items() if isinstance(spec, dict) else []):
        command = entry.get("command") if isinstance(entry, dict) else None
        if not (isinstance(command, list) and command and all(isinstance(c, str) for c in command)):
            log.error("%s: agent %r needs a non-empty `command` list of strings; skipped", ENV_VAR, agent_id)
            continue
        env = entry.get("env") if isinstance(entry.get("env"), dict) else {}
        out.append(CommandAcpDriver(str(agent_id), str(entry.get("name") or agent_id), command, env))
    return out
