"""pi: `pi-acp` per session, which runs `pi --mode rpc`; the model endpoint from `OPENAI_BASE_URL`.

The session's `OPENAI_BASE_URL` + `OPENAI_API_KEY` become a custom OpenAI-compatible provider in pi's
`models.json` (its documented way to add a provider), in a private agent dir. pi has no permission prompts of its
own and the pinned bridge drops pi's extension dialogs, so pi sessions never ask: reported as `permissions: no`.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...install.installer import Installer
from ...schema.agents import AgentCapabilities
from ..acp.adapter import AcpLaunch
from ..acp.driver import NpmAcpDriver
from ..base import SessionConfig
from ..env import child_env
from ..launch_env import _home

PI_CLI = "@mariozechner/pi-coding-agent/dist/cli.js"
TOOL_KINDS = {"bash": "execute", "write": "edit", "edit": "edit", "read": "read", "grep": "search", "find": "search"}

CAPABILITIES = AgentCapabilities(
    text="yes",
    streaming_deltas="yes",
    tool_calls="yes",
    tool_results="yes",
    questions="no",
    permissions="no",  # pi never asks; pi-acp 0.0.24 does not forward extension confirm dialogs
    images="yes",  # promptCapabilities.image
    file_attachments="partial",  # resource links become text
    lifecycle="yes",
    errors="yes",
    reasoning="no",  # pi-acp streams no thought chunks
    command_execution="yes",  # the bash tool (pi-acp calls it kind `other`; mapped by title)
    file_changes="partial",  # write/edit items with the path; pi-acp 0.0.24 sends no diff
    mcp_tools="no",  # pi-acp accepts MCP servers but does not wire them to pi
    interrupt="yes",  # session/cancel -> pi `abort`
    resume="yes",  # session/load -> pi's session file
)


class PiDriver(NpmAcpDriver):
    capabilities = CAPABILITIES

    def __init__(self, installer: Installer) -> None:
        super().__init__("pi", installer)

    def launch(self, command: list[str], config: SessionConfig) -> AcpLaunch:
        assert config.state_dir is not None
        state = config.state_dir / "pi"
        base = _home(state)
        agent_dir = state / "home/.pi/agent"
        agent_dir.mkdir(parents=True, exist_ok=True)
        settings: dict[str, object] = {"quietStartup": True, "enableInstallTelemetry": False}
        endpoint = config.env.get("OPENAI_BASE_URL")
        if endpoint:
            model = config.model or "default"
            provider = {
                "baseUrl": endpoint.rstrip("/"),
                "api": "openai-completions",
                "apiKey": config.env.get("OPENAI_API_KEY", "none"),
                "compat": {"supportsDeveloperRole": False, "supportsReasoningEffort": False},
                "models": [{"id": model}],
            }
            (agent_dir / "models.json").write_text(json.dumps({"providers": {"sandbox": provider}}))
            settings |= {"defaultProvider": "sandbox", "defaultModel": model}
        elif config.model:
            settings["defaultModel"] = config.model
        (agent_dir / "settings.json").write_text(json.dumps(settings))
        # pi-acp runs `$PI_ACP_PI_COMMAND --mode rpc ...`: point it at the pinned pi beside it
        prefix = Path(command[-1]).parents[3]  # <prefix>/node_modules/pi-acp/dist/index.js
        wrapper = state / "pi"
        wrapper.write_text(f"#!/bin/sh\nexec '{command[0]}' '{prefix / 'node_modules' / PI_CLI}' \"$@\"\n")
        wrapper.chmod(0o755)
        extra = {
            **base,
            "PI_CODING_AGENT_DIR": str(agent_dir),
            "PI_ACP_PI_COMMAND": str(wrapper),
            "PI_OFFLINE": "1",  # no update checks or install telemetry
            "PI_SKIP_VERSION_CHECK": "1",
            "PI_TELEMETRY": "0",
            "npm_config_offline": "true",  # pi-acp asks npm for pi's latest version: fail fast, offline
        }
        return AcpLaunch(list(command), child_env(config.env, extra), name="pi", tool_kinds=TOOL_KINDS)
