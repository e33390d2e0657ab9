"""Any agent that speaks the Agent Client Protocol, driven over stdio with the official `acp` library."""

from .adapter import AcpLaunch, AcpSession
from .driver import CommandAcpDriver, NpmAcpDriver, drivers_from_env

__all__ = ["AcpLaunch", "AcpSession", "CommandAcpDriver", "NpmAcpDriver", "drivers_from_env"]
