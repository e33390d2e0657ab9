"""Codex: threads on a shared `codex app-server`, and a pure translator of its notifications."""

from .driver import CodexDriver

__all__ = ["CodexDriver"]
