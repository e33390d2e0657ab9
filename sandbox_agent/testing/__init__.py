"""Scripted fake model providers on 127.0.0.1: run the real agent binaries with no keys and no network."""

from .script import ErrorReply, Reply, ToolCall, load_script
from .server import FakeLLM

__all__ = ["ErrorReply", "FakeLLM", "Reply", "ToolCall", "load_script"]
