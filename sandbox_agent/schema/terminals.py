"""Params and results of the `terminals/*` methods; the bytes themselves flow over /v1/terminals/{id}."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class TerminalOpenParams(_Params):
    command: list[str] | None = Field(default=None, min_length=1, description="argv; default: $SHELL or bash")
    cwd: str | None = Field(default=None, description="default: the daemon's working directory")
    env: dict[str, str] | None = Field(default=None, description="added to the daemon's environment (TERM set)")
    cols: int = Field(default=80, ge=1, le=1000)
    rows: int = Field(default=24, ge=1, le=1000)


class TerminalOpenResult(_Result):
    terminal_id: str
    pid: int
    websocket_path: str = Field(description="connect here (same auth as /v1/rpc); binary frames both ways")


class TerminalIdParams(_Params):
    terminal_id: str = Field(min_length=1)


class TerminalResizeParams(TerminalIdParams):
    cols: int = Field(ge=1, le=1000)
    rows: int = Field(ge=1, le=1000)


class TerminalInfo(_Result):
    terminal_id: str
    pid: int
    command: list[str]
    cwd: str
    cols: int
    rows: int
    status: Literal["running", "exited"]
    exit_code: int | None = None
    signal: int | None = None
    created_at: float
    clients: int = Field(description="WebSockets attached now")
    scrollback_bytes: int


class TerminalListResult(_Result):
    terminals: list[TerminalInfo]
