"""Terminals: real PTYs under asyncio whose bytes flow over a WebSocket, with scrollback for reconnects."""

from .manager import TerminalManager
from .terminal import Terminal

__all__ = ["Terminal", "TerminalManager"]
