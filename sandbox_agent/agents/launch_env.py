"""Each real agent's isolated launch environment, built in one place.

The session's `env` follows one convention for every agent (DESIGN.md): `ANTHROPIC_API_KEY` + `ANTHROPIC_BASE_URL`
(Claude Code), `OPENAI_API_KEY` + `OPENAI_BASE_URL` (Codex via the Responses API; OpenCode via Chat Completions),
`AMP_API_KEY` + `AMP_URL` (Amp). Here that becomes each agent's native configuration, in a private home folder,
with every switch that stops non-essential outbound traffic (measured in ../shared/agents/*/NOTES.md), so that
nothing leaves the sandbox but model traffic.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..schema.methods import PermissionMode
from .env import child_env

CODEX_MODEL_TEMPLATE = Path(__file__).with_name("data") / "codex_model_template.json"


@dataclass
class Launch:
    env: dict[str, str]
    home: Path


def _home(state: Path) -> dict[str, str]:
    dirs = {
        "HOME": state / "home",
        "XDG_CONFIG_HOME": state / "home/.config",
        "XDG_DATA_HOME": state / "home/.local/share",
        "XDG_CACHE_HOME": state / "home/.cache",
        "XDG_STATE_HOME": state / "home/.local/state",
        "TMPDIR": state / "tmp",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    return {k: str(v) for k, v in dirs.items()}


def claude_launch(session_env: dict[str, str], state: Path) -> Launch:
    base = _home(state)
    config_dir = state / "claude"
    config_dir.mkdir(parents=True, exist_ok=True)
    extra = {
        **base,
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # the one switch that stops all off-box traffic
        "DISABLE_AUTOUPDATER": "1",
    }
    if os.geteuid() == 0:
        extra["IS_SANDBOX"] = "1"  # as root, Claude refuses bypassPermissions without it
    return Launch(child_env(session_env, extra), state)


_CODEX_POLICY: dict[str, tuple[str, str]] = {
    "default": ("on-request", "workspace-write"),
    "plan": ("on-request", "read-only"),
    "accept_edits": ("on-request", "workspace-write"),
    "bypass": ("never", "danger-full-access"),
}


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def codex_launch(
    session_env: dict[str, str], state: Path, cwd: str, model: str | None, permission_mode: PermissionMode
) -> Launch:
    base = _home(state)
    codex_home = state / "codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    approval, sandbox = _CODEX_POLICY[permission_mode]
    lines = [
        f"approval_policy = {_toml_str(approval)}",
        f"sandbox_mode = {_toml_str(sandbox)}",
        "check_for_update_on_startup = false",
        'web_search = "disabled"',
    ]
    custom = session_env.get("OPENAI_BASE_URL")
    if model or custom:
        lines.insert(0, f"model = {_toml_str(model or 'gpt-5.5')}")
    if custom:
        # a custom endpoint serves models Codex does not know: describe the model so tools like apply_patch exist
        catalog = json.loads(CODEX_MODEL_TEMPLATE.read_text())
        for entry in catalog["models"]:
            entry["slug"] = model or "gpt-5.5"
            entry["display_name"] = model or "gpt-5.5"
        (codex_home / "model_catalog.json").write_text(json.dumps(catalog))
        lines += [
            'model_provider = "sandbox"',
            f"model_catalog_json = {_toml_str(str(codex_home / 'model_catalog.json'))}",
        ]
    lines += [
        "",
        "[analytics]",
        "enabled = false",
        "",
        "[features]",
        "plugins = false",
        "apps = false",
        "remote_plugin = false",
        "plugin_sharing = false",
        "unbounded_connection_retries = false",
    ]
    if custom:
        lines += [
            "",
            "[model_providers.sandbox]",
            'name = "Session endpoint"',
            f"base_url = {_toml_str(custom.rstrip('/'))}",
            'env_key = "OPENAI_API_KEY"',
            'wire_api = "responses"',
            "request_max_retries = 1",
            "stream_max_retries = 1",
        ]
    lines += ["", f"[projects.{_toml_str(cwd)}]", 'trust_level = "trusted"', ""]
    (codex_home / "config.toml").write_text("\n".join(lines))
    return Launch(child_env(session_env, {**base, "CODEX_HOME": str(codex_home)}), state)


OPENCODE_PERMISSION: dict[str, dict[str, str]] = {
    "default": {"bash": "ask", "edit": "ask"},
    "plan": {"bash": "ask", "edit": "deny"},
    "accept_edits": {"bash": "ask", "edit": "allow"},
    "bypass": {"bash": "allow", "edit": "allow"},
}


def opencode_launch(
    session_env: dict[str, str], state: Path, model: str | None, permission_mode: PermissionMode, version: str
) -> Launch:
    base = _home(state)
    config_dir = Path(base["XDG_CONFIG_HOME"]) / "opencode"
    # Pre-seed the plugin dependency so OpenCode skips its background `npm install` (measured in the notes).
    (config_dir / "node_modules").mkdir(parents=True, exist_ok=True)
    deps = {"dependencies": {"@opencode-ai/plugin": "*"}}
    (config_dir / "package.json").write_text(json.dumps(deps))
    (config_dir / "package-lock.json").write_text(json.dumps({"lockfileVersion": 3, "packages": {"": deps}}))
    config: dict[str, object] = {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "permission": OPENCODE_PERMISSION[permission_mode],
    }
    custom = session_env.get("OPENAI_BASE_URL")
    if custom:
        name = model or "default"
        # OpenCode only runs models its config declares: the session's, and any others the endpoint serves
        # (SANDBOX_AGENT_MODELS, comma-separated) so that sessions/configure can switch to them
        names = [name] + [m.strip() for m in session_env.get("SANDBOX_AGENT_MODELS", "").split(",") if m.strip()]
        limits = {"context": 128000, "output": 4096}
        config["provider"] = {
            "sandbox": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Session endpoint",
                "options": {"baseURL": custom.rstrip("/"), "apiKey": session_env.get("OPENAI_API_KEY", "")},
                "models": {n: {"name": n, "tool_call": True, "limit": limits} for n in names},
            }
        }
        config["enabled_providers"] = ["sandbox"]
        config["model"] = config["small_model"] = f"sandbox/{name}"
    elif model:
        config["model"] = model
    extra = {
        **base,
        "OPENCODE_CONFIG_CONTENT": json.dumps(config),
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_SHARE": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    }
    return Launch(child_env(session_env, extra), state)


def amp_launch(session_env: dict[str, str], state: Path, permissions: list[dict[str, object]] | None = None) -> Launch:
    base = _home(state)
    settings = state / "amp-settings.json"
    settings.write_text(json.dumps({"amp.permissions": permissions or [], "amp.updates.autoUpdate.enabled": False}))
    extra = {**base, "AMP_SETTINGS_FILE": str(settings)}
    return Launch(child_env(session_env, extra), state)
