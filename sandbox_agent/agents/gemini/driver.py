"""Gemini CLI: `gemini --acp` per session, API-key auth, the endpoint from `GOOGLE_GEMINI_BASE_URL`.

The `@google/genai` SDK inside the pinned CLI (0.61.0) reads `GOOGLE_GEMINI_BASE_URL` (verified against the fake
provider: every model request went there), so that is how a session points Gemini at a gateway or the fake.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from ...install.installer import Installer
from ...schema.agents import AgentCapabilities
from ..acp.driver import NpmAcpDriver
from ..acp.launch import AcpLaunch
from ..base import SessionConfig
from ..env import child_env
from ..launch_env import _home

APPROVAL_MODES = {"default": "default", "plan": "plan", "accept_edits": "auto_edit", "bypass": "yolo"}

CAPABILITIES = AgentCapabilities(
    text="yes",
    streaming_deltas="yes",
    tool_calls="yes",
    tool_results="yes",
    questions="no",  # ACP has no question request; Gemini CLI's ask_user tool is not offered over ACP
    permissions="yes",  # session/request_permission
    images="yes",  # promptCapabilities.image
    file_attachments="partial",  # as resource links the CLI reads itself
    lifecycle="yes",
    errors="yes",
    reasoning="yes",  # agent_thought_chunk
    command_execution="partial",  # command and status; the pinned CLI sends no output or exit code over ACP
    file_changes="yes",  # edits arrive as ACP diffs
    mcp_tools="partial",  # passed in session/new (http, sse, stdio); not exercised by the tests
    interrupt="yes",  # session/cancel
    resume="yes",  # session/load
)


class GeminiDriver(NpmAcpDriver):
    capabilities = CAPABILITIES
    modes = ["default", "plan", "accept_edits", "bypass"]

    def __init__(self, installer: Installer) -> None:
        super().__init__("gemini", installer)

    def launch(self, command: list[str], config: SessionConfig) -> AcpLaunch:
        assert config.state_dir is not None
        state = config.state_dir / "gemini"
        base = _home(state)
        settings = {
            "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True, "enableAutoUpdate": False},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
        }
        gemini_dir = state / "home/.gemini"
        gemini_dir.mkdir(parents=True, exist_ok=True)
        (gemini_dir / "settings.json").write_text(json.dumps(settings))
        if config.resume_native_id:
            keep_history(gemini_dir, config.resume_native_id)
        env = child_env(config.env, {**base, "GEMINI_CLI_NO_RELAUNCH": "true"})
        if "GEMINI_API_KEY" not in env and "GOOGLE_API_KEY" in env:
            env["GEMINI_API_KEY"] = env["GOOGLE_API_KEY"]
        argv = [*command, "--acp", "--skip-trust", "--approval-mode", APPROVAL_MODES[config.permission_mode]]
        if config.model:
            argv += ["--model", config.model]
        # No client fs: Gemini CLI 0.61.0 tells a missing file apart only by `String(err)` of the error, which is
        # "[object Object]" for a JSON-RPC error, so creating a file through fs/read_text_file always failed.
        return AcpLaunch(argv, env, auth_method="gemini-api-key", name="gemini", client_fs=False)


def keep_history(gemini_dir: Path, session_id: str) -> None:
    """Work around Gemini CLI 0.61.0's session/load, which re-initializes the recording of the session id it is
    asked to load (a `$set` of the bare context into `chats/session-<time>-<id8>.jsonl`) before reading it, so it
    finds nothing to resume. A copy under another file name keeps the conversation: Gemini lists every
    `session-*.jsonl`, skips the emptied one, loads the copy and records the continued session into it."""
    short = session_id[:8]
    for chats in gemini_dir.glob("tmp/*/chats"):
        for path in sorted(chats.glob(f"session-*-{short}.jsonl")):
            copy = path.with_name(f"{path.stem[: -len(short)]}r{uuid.uuid4().hex[:7]}.jsonl")
            shutil.copyfile(path, copy)
