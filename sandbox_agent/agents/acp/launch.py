"""How to start one ACP agent. Kept apart from the adapter so drivers (and `agents/list`) never import the `acp`
library: it costs ~1.2 s and ~30 MB at start-up, paid only once an ACP session opens."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AcpLaunch:
    """How to start one ACP agent: argv, environment, and what to do right after `initialize`."""

    argv: list[str]
    env: dict[str, str]
    auth_method: str | None = None  # an `authenticate` method id to call after `initialize`
    mode: str | None = None  # an ACP session mode id to select after `session/new` / `session/load`
    name: str = "agent"
    tool_kinds: dict[str, str] | None = None  # tool title -> ACP kind, for agents that send every tool as `other`
    client_fs: bool = True  # offer fs/read_text_file and fs/write_text_file
    client_terminal: bool = True  # offer terminal/*
