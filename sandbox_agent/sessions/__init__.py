"""Sessions: the state machine, the event log and journal, subscriptions and pending HITL requests."""

from .journal import Journal
from .manager import SessionManager
from .session import Session

__all__ = ["Journal", "Session", "SessionManager"]
