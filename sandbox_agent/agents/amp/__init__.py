"""Amp: a stream-JSON process per session, approvals through a delegate hook, and a pure translator."""

from .driver import AmpDriver

__all__ = ["AmpDriver"]
