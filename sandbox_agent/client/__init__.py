"""The Python SDK: embedded (spawns `sandbox-agent stdio`) or remote (WebSocket), the same typed API."""

from ..rpc.connection import ConnectionClosed
from ..rpc.errors import RpcError
from .client import SandboxAgent, Session

__all__ = ["ConnectionClosed", "RpcError", "SandboxAgent", "Session"]
