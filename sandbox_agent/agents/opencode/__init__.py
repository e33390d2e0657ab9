"""OpenCode: sessions on a shared `opencode serve`, and a pure translator of its SSE events."""

from .driver import OpenCodeDriver

__all__ = ["OpenCodeDriver"]
