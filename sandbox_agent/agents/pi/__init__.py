"""pi (the coding agent) through `pi-acp` and the generic ACP adapter."""

from .driver import PiDriver

__all__ = ["PiDriver"]
