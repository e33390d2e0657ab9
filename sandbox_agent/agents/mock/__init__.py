"""The built-in mock agent: a real child process scripted by trigger words, for tests and demos."""

from .adapter import MockDriver
from .mock_agent import TRIGGERS

__all__ = ["TRIGGERS", "MockDriver"]
