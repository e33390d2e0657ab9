"""Installing the real agents from npm on demand, and finding the credentials a user already has."""

from .catalog import CATALOG, AgentPackage
from .installer import InstalledAgent, Installer, default_root

__all__ = ["CATALOG", "AgentPackage", "InstalledAgent", "Installer", "default_root"]
