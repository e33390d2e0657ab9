"""What the journal keeps about a session besides its events."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ..schema.events import SessionEndedData
from ..schema.methods import McpServerConfig, PermissionMode


class SessionRecord(BaseModel):
    # built on first use, like the schema models: a daemon that never makes or restores a session never pays
    # for it (~5 ms of start-up, with the event models it pulls in)
    model_config = ConfigDict(defer_build=True)

    session_id: str
    agent: str
    cwd: str
    created_at: str
    model: str | None = None
    agent_mode: str | None = None
    permission_mode: PermissionMode = "default"
    env_keys: list[str] = []  # names only: secrets never reach the journal
    mcp_servers: list[McpServerConfig] = []
    include_raw: bool = False
    hitl_timeout_s: float | None = None
    native_session_id: str | None = None
    ended: SessionEndedData | None = None
    closed_by_client: bool = False  # ended by sessions/terminate: never resumed behind the client's back
