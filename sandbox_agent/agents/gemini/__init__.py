"""Gemini CLI through the generic ACP adapter."""

from .driver import GeminiDriver

__all__ = ["GeminiDriver"]
