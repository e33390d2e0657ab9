"""What to install for each agent: npm package, the pinned version the test suite has run, how to find the binary.

Versions are pinned because a bare `npm install` here resolves old or broken releases (../shared notes: the newest
`@ampcode/cli` has no linux-x64 package on this registry; `@anthropic-ai/claude-code` resolves 2.1.197 while
`latest` says 2.1.330). The native binary is run directly: the Node wrapper costs 200-350 ms per start.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def _platform_tag() -> str:
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), "x64"
    )
    system = {"Linux": "linux", "Darwin": "darwin"}.get(platform.system(), "linux")
    return f"{system}-{machine}"


def _is_native(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head in (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")


def _first_native(prefix: Path, patterns: list[str]) -> list[str] | None:
    for pattern in patterns:
        for candidate in sorted(glob.glob(str(prefix / pattern))):
            if _is_native(candidate) and os.access(candidate, os.X_OK):
                return [candidate]
    return None


def _claude(prefix: Path) -> list[str] | None:
    return _first_native(
        prefix,
        [
            f"node_modules/@anthropic-ai/claude-code-{_platform_tag()}*/claude",
            "node_modules/@anthropic-ai/claude-code/bin/claude.exe",
        ],
    )


def _codex(prefix: Path) -> list[str] | None:
    return _first_native(prefix, [f"node_modules/@openai/codex-{_platform_tag()}*/vendor/*/bin/codex"])


def _opencode(prefix: Path) -> list[str] | None:
    tag = _platform_tag()
    return _first_native(
        prefix,
        [
            f"node_modules/opencode-{tag}/bin/opencode",
            f"node_modules/opencode-{tag}*/bin/opencode",
            "node_modules/opencode-ai/bin/opencode.exe",
        ],
    )


def _amp(prefix: Path) -> list[str] | None:
    # The pinned build is plain JavaScript: it runs its agent loop locally against an Anthropic-compatible
    # endpoint under $AMP_URL (newer builds need Amp's private service).
    main = prefix / "node_modules/@sourcegraph/amp/dist/main.js"
    node = shutil.which("node")
    return [node, str(main)] if main.is_file() and node else None


def _node_script(relative: str) -> Callable[[Path], list[str] | None]:
    """An agent that is a Node script (ACP agents): run it with the `node` on PATH."""

    def resolve(prefix: Path) -> list[str] | None:
        main = prefix / "node_modules" / relative
        node = shutil.which("node")
        return [node, str(main)] if main.is_file() and node else None

    return resolve


PI_ACP = "0.0.34"


def _pi(prefix: Path) -> list[str] | None:
    """pi-acp beside pi; None when the bridge there is not the pinned one (so the installer replaces it)."""
    bridge = prefix / "node_modules/pi-acp/package.json"
    try:
        if json.loads(bridge.read_text()).get("version") != PI_ACP:
            return None
    except (OSError, ValueError):
        return None
    if not (prefix / "node_modules/@mariozechner/pi-coding-agent/dist/cli.js").is_file():
        return None
    return _node_script("pi-acp/dist/index.js")(prefix)


@dataclass(frozen=True)
class AgentPackage:
    agent: str
    name: str
    package: str
    version: str
    resolve: Callable[[Path], list[str] | None]
    version_args: tuple[str, ...] = ("--version",)
    extra: tuple[str, ...] = ()  # more pinned `package@version`s installed beside it (an ACP bridge)


CATALOG: dict[str, AgentPackage] = {
    p.agent: p
    for p in [
        AgentPackage("claude", "Claude Code", "@anthropic-ai/claude-code", "2.1.197", _claude),
        AgentPackage("codex", "Codex", "@openai/codex", "0.169.0", _codex),
        AgentPackage("opencode", "OpenCode", "opencode-ai", "1.18.33", _opencode),
        AgentPackage("amp", "Amp", "@sourcegraph/amp", "0.0.1767830505-ga62310", _amp),
        # ACP agents. Gemini CLI speaks ACP itself (`--acp`). pi does not: `pi-acp` bridges it (`pi --mode rpc`).
        # pi-acp 0.0.34 wants pi >= 0.81 (@earendil-works), which needs Node 22; pi 0.73.1 runs on Node 20 and
        # agents/pi/rpc_shim.py bridges the two protocol details where they disagree.
        AgentPackage(
            "gemini", "Gemini CLI", "@google/gemini-cli", "0.61.0", _node_script("@google/gemini-cli/bundle/gemini.js")
        ),
        AgentPackage(
            "pi",
            "pi",
            "@mariozechner/pi-coding-agent",
            "0.73.1",
            _pi,
            version_args=(),
            extra=(f"pi-acp@{PI_ACP}",),
        ),
    ]
}
