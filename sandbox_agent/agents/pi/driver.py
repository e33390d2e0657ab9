"""pi: `pi-acp` per session, which runs `pi --mode rpc` (through rpc_shim.py); the endpoint from `OPENAI_BASE_URL`.

The session's `OPENAI_BASE_URL` + `OPENAI_API_KEY` become a custom OpenAI-compatible provider in pi's
`models.json` (its documented way to add a provider), in a private agent dir. pi has no approvals of its own: the
permission_gate.js extension asks before bash/write/edit (per permission mode) through pi's extension UI, which
pi-acp forwards as ACP session/request_permission.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ...install.installer import Installer
from ...schema.agents import AgentCapabilities
from ..acp.driver import NpmAcpDriver
from ..acp.launch import AcpLaunch
from ..base import SessionConfig
from ..env import child_env
from ..launch_env import _home

PI_CLI = "@mariozechner/pi-coding-agent/dist/cli.js"
SHIM = Path(__file__).with_name("rpc_shim.py")
GATE = Path(__file__).with_name("permission_gate.js")
TOOL_KINDS = {"bash": "execute", "write": "edit", "edit": "edit", "read": "read", "grep": "search", "find": "search"}
# permission mode -> (tools that ask, tools refused)
GATES = {
    "default": ("bash,write,edit", ""),
    "accept_edits": ("bash", ""),
    "plan": ("bash", "write,edit"),
    "bypass": ("", ""),
}

CAPABILITIES = AgentCapabilities(
    text="yes",
    streaming_deltas="yes",
    tool_calls="yes",
    tool_results="yes",
    questions="no",
    permissions="yes",  # through permission_gate.js (pi's extension UI -> pi-acp -> session/request_permission)
    images="yes",  # promptCapabilities.image
    file_attachments="partial",  # resource links become text
    lifecycle="yes",
    errors="yes",
    reasoning="no",  # pi-acp streams no thought chunks
    command_execution="yes",  # the bash tool (kind execute; output in the terminal _meta pi-acp sends)
    file_changes="yes",  # pi-acp snapshots files and sends ACP diffs for edit/write
    mcp_tools="no",  # pi-acp accepts MCP servers but does not wire them to pi
    interrupt="yes",  # session/cancel -> pi `abort`
    resume="yes",  # session/load -> pi's session file
)


class PiDriver(NpmAcpDriver):
    capabilities = CAPABILITIES
    modes = ["default", "plan", "accept_edits", "bypass"]

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
        # pi-acp runs `$PI_ACP_PI_COMMAND --mode rpc ...`: the pinned pi beside it, through the shim, with the gate
        prefix = Path(command[-1]).parents[3]  # <prefix>/node_modules/pi-acp/dist/index.js
        wrapper = state / "pi"
        pi = f"'{command[0]}' '{prefix / 'node_modules' / PI_CLI}' -e '{GATE}'"
        wrapper.write_text(f"#!/bin/sh\nexec '{sys.executable}' -I '{SHIM}' {pi} \"$@\"\n")
        wrapper.chmod(0o755)
        ask, deny = GATES[config.permission_mode]
        extra = {
            **base,
            "PI_CODING_AGENT_DIR": str(agent_dir),
            "PI_ACP_PI_COMMAND": str(wrapper),
            "PI_OFFLINE": "1",  # no update checks or install telemetry
            "PI_SKIP_VERSION_CHECK": "1",
            "PI_TELEMETRY": "0",
            "npm_config_offline": "true",  # pi-acp asks npm for pi's latest version: fail fast, offline
            "SANDBOX_AGENT_PI_ASK": ask,
            "SANDBOX_AGENT_PI_DENY": deny,
        }
        return AcpLaunch(list(command), child_env(config.env, extra), name="pi", tool_kinds=TOOL_KINDS)
