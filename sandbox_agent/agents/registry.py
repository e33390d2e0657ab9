"""The agents this daemon can drive."""

from __future__ import annotations

from pathlib import Path

from ..rpc.errors import AppError
from ..schema.errors import ErrorKind
from .base import AgentDriver


class AgentRegistry:
    def __init__(self, drivers: list[AgentDriver]) -> None:
        self.drivers = {d.id: d for d in drivers}

    def get(self, agent_id: str) -> AgentDriver:
        driver = self.drivers.get(agent_id)
        if driver is None:
            raise AppError(
                ErrorKind.AGENT_NOT_FOUND,
                f"unknown agent {agent_id!r}; known: {', '.join(sorted(self.drivers))}",
                agent=agent_id,
                known=sorted(self.drivers),
            )
        return driver

    async def aclose(self) -> None:
        for driver in self.drivers.values():
            await driver.aclose()


def default_registry(install_root: Path | None = None) -> AgentRegistry:
    from ..install.catalog import CATALOG
    from ..install.installer import Installer
    from .acp import drivers_from_env
    from .amp import AmpDriver
    from .claude import ClaudeDriver
    from .codex import CodexDriver
    from .gemini import GeminiDriver
    from .mock import MockDriver
    from .npm_agent import NpmAgentDriver
    from .opencode import OpenCodeDriver
    from .pi import PiDriver

    installer = Installer(install_root)
    adapters: dict[str, AgentDriver] = {
        "claude": ClaudeDriver(installer),
        "codex": CodexDriver(installer),
        "opencode": OpenCodeDriver(installer),
        "amp": AmpDriver(installer),
        "gemini": GeminiDriver(installer),
        "pi": PiDriver(installer),
    }
    npm = [adapters.get(a) or NpmAgentDriver(a, installer) for a in CATALOG]
    return AgentRegistry([MockDriver(), *npm, *drivers_from_env()])
