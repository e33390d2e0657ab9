"""Claude Code: adapter (one stream-json process per session) and a pure translator of its output."""

from .driver import ClaudeDriver

__all__ = ["ClaudeDriver"]
