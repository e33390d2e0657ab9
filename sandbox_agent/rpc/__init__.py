"""JSON-RPC 2.0: framing, a typed dispatcher, a bidirectional connection and OpenRPC generation."""

from .connection import Connection, ConnectionClosed
from .dispatcher import Dispatcher, Method
from .errors import AppError, RpcError

__all__ = ["AppError", "Connection", "ConnectionClosed", "Dispatcher", "Method", "RpcError"]
