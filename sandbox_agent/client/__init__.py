"""The Python SDK: the state dir's shared daemon, a private child, or a remote server; the same typed API."""

from ..rpc.connection import ConnectionClosed
from ..rpc.errors import AlreadyResolved, RpcError
from .client import SandboxAgent, Session

__all__ = ["AlreadyResolved", "ConnectionClosed", "RpcError", "SandboxAgent", "Session"]
