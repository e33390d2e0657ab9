"""Any agent that speaks the Agent Client Protocol, driven over stdio with the official `acp` library."""

from typing import Any

from .driver import CommandAcpDriver, NpmAcpDriver, drivers_from_env
from .launch import AcpLaunch

__all__ = ["AcpLaunch", "AcpSession", "CommandAcpDriver", "NpmAcpDriver", "drivers_from_env"]


def __getattr__(name: str) -> Any:
    if name == "AcpSession":  # imports the acp library: only when asked for
        from .adapter import AcpSession

        return AcpSession
    raise AttributeError(name)
