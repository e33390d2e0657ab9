"""Find the API keys a user already has (environment, then the agents' own auth files), to pass into a sandbox.

Values are only ever printed to stdout by `sandbox-agent credentials extract-env`; logs name sources, never values.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_NAMES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AMP_API_KEY",
    "AMP_URL",
    "OPENROUTER_API_KEY",
)


@dataclass(frozen=True)
class Credential:
    name: str
    value: str
    source: str


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _home() -> Path:
    return Path(os.environ.get("HOME") or os.path.expanduser("~"))


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or _home() / ".local" / "share")


def _claude() -> list[Credential]:
    out = []
    config_dir = Path(os.environ.get("CLAUDE_CONFIG_DIR") or _home() / ".claude")
    creds = config_dir / ".credentials.json"
    data = _json(creds)
    token = (data or {}).get("claudeAiOauth", {}).get("accessToken") if isinstance(data, dict) else None
    if isinstance(token, str) and token:
        out.append(Credential("CLAUDE_CODE_OAUTH_TOKEN", token, str(creds)))
    for cfg in (config_dir / ".claude.json", _home() / ".claude.json"):
        data = _json(cfg)
        key = data.get("primaryApiKey") if isinstance(data, dict) else None
        if isinstance(key, str) and key:
            out.append(Credential("ANTHROPIC_API_KEY", key, str(cfg)))
            break
    return out


def _codex() -> list[Credential]:
    path = Path(os.environ.get("CODEX_HOME") or _home() / ".codex") / "auth.json"
    data = _json(path)
    key = data.get("OPENAI_API_KEY") if isinstance(data, dict) else None
    return [Credential("OPENAI_API_KEY", key, str(path))] if isinstance(key, str) and key else []


_OPENCODE_PROVIDERS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY", "openrouter": "OPENROUTER_API_KEY"}


def _opencode() -> list[Credential]:
    path = _data_home() / "opencode" / "auth.json"
    data = _json(path)
    out = []
    if isinstance(data, dict):
        for provider, name in _OPENCODE_PROVIDERS.items():
            entry = data.get(provider)
            if isinstance(entry, dict) and entry.get("type") == "api" and isinstance(entry.get("key"), str):
                out.append(Credential(name, entry["key"], str(path)))
    return out


def _amp() -> list[Credential]:
    path = _data_home() / "amp" / "secrets.json"
    data = _json(path)
    out = []
    if isinstance(data, dict):
        for field, value in data.items():
            if field.startswith("apiKey@") and isinstance(value, str) and value:
                out.append(Credential("AMP_API_KEY", value, str(path)))
                url = field[len("apiKey@") :].rstrip("/")
                if url and url != "https://ampcode.com":
                    out.append(Credential("AMP_URL", url, str(path)))
                break
    return out


SOURCES: list[Callable[[], list[Credential]]] = [_claude, _codex, _opencode, _amp]


def extract() -> list[Credential]:
    """Environment variables win; each agent's files fill in what the environment does not have."""
    found: dict[str, Credential] = {}
    for name in ENV_NAMES:
        value = os.environ.get(name)
        if value:
            found[name] = Credential(name, value, "environment")
    for source in SOURCES:
        for cred in source():
            found.setdefault(cred.name, cred)
    return list(found.values())


def render(creds: list[Credential], export: bool) -> str:
    prefix = "export " if export else ""
    return "".join(f"{prefix}{c.name}={shlex.quote(c.value)}\n" for c in creds)
