"""JSON-RPC error objects: protocol errors and application errors carrying `data.kind`."""

from __future__ import annotations

from typing import Any

from ..schema.errors import ERROR_CODES, ErrorKind

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class RpcError(Exception):
    """An error that becomes a JSON-RPC error response as it is."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err

    @property
    def kind(self) -> str | None:
        return self.data.get("kind") if isinstance(self.data, dict) else None


class AppError(RpcError):
    """An application error: code in -32000..-32099 and `data: {kind, ...details}`."""

    def __init__(self, kind: ErrorKind, message: str, **details: Any) -> None:
        super().__init__(ERROR_CODES[kind], message, {"kind": kind.value, **details})
        self.error_kind = kind


class AlreadyResolved(RpcError):
    """Another client answered this permission or question first (`data.kind = "already_resolved"`)."""


def error_from_dict(err: dict[str, Any]) -> RpcError:
    """Rebuild an error received from a peer (the client side of the same contract)."""
    data = err.get("data")
    cls = AlreadyResolved if isinstance(data, dict) and data.get("kind") == "already_resolved" else RpcError
    return cls(int(err.get("code", INTERNAL_ERROR)), str(err.get("message", "")), data)
