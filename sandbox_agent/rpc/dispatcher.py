"""Routes JSON-RPC requests to typed handlers: framing, validation, batches and error mapping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from ..ops.logs import bind_params
from .errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
)

log = logging.getLogger(__name__)

P = TypeVar("P", bound=BaseModel)
C = TypeVar("C")

Handler = Callable[[Any, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Method:
    name: str
    params: type[BaseModel]
    result: Any
    handler: Handler
    summary: str


def _dump(result: Any) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list):
        return [_dump(r) for r in result]
    return result


def encode_response(req_id: Any, result: Any) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": req_id, "result": _dump(result)})


def encode_error(req_id: Any, error: RpcError) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": req_id, "error": error.to_dict()})


def _validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


def _valid_id(value: Any) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


class Dispatcher(Generic[C]):
    """A method table plus the JSON-RPC 2.0 rules for requests, notifications and batches."""

    def __init__(self) -> None:
        self.methods: dict[str, Method] = {}

    def method(
        self, name: str, params: type[P], result: Any, summary: str
    ) -> Callable[[Callable[[P, C], Awaitable[Any]]], Callable[[P, C], Awaitable[Any]]]:
        def register(fn: Callable[[P, C], Awaitable[Any]]) -> Callable[[P, C], Awaitable[Any]]:
            self.methods[name] = Method(name, params, result, fn, summary)
            return fn

        return register

    async def handle_bytes(self, data: bytes | str, ctx: C) -> bytes | None:
        """Handle one transport message (a request, a notification or a batch); None = nothing to send."""
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            return encode_error(None, RpcError(PARSE_ERROR, "Parse error", {"detail": str(exc)}))
        return await self.handle_message(message, ctx)

    async def handle_message(self, message: Any, ctx: C) -> bytes | None:
        if isinstance(message, list):
            if not message:
                return encode_error(None, RpcError(INVALID_REQUEST, "Invalid Request", {"detail": "empty batch"}))
            replies = await asyncio.gather(*(self._handle_one(m, ctx) for m in message))
            parts = [r for r in replies if r is not None]
            return b"[" + b",".join(parts) + b"]" if parts else None
        return await self._handle_one(message, ctx)

    async def _handle_one(self, message: Any, ctx: C) -> bytes | None:
        if not isinstance(message, dict):
            return encode_error(None, RpcError(INVALID_REQUEST, "Invalid Request", {"detail": "not an object"}))
        has_id = "id" in message
        req_id = message.get("id")
        if message.get("jsonrpc") != "2.0" or not isinstance(message.get("method"), str) or not _valid_id(req_id):
            return encode_error(
                req_id if _valid_id(req_id) else None,
                RpcError(
                    INVALID_REQUEST,
                    "Invalid Request",
                    {"detail": "need jsonrpc '2.0', a method and a valid id"},
                ),
            )
        try:
            result = await self.call(message["method"], message.get("params"), ctx)
        except RpcError as exc:
            return encode_error(req_id, exc) if has_id else None
        except Exception as exc:  # one bad call must never take the daemon down
            log.exception("internal error in %s", message["method"])
            return (
                encode_error(req_id, RpcError(INTERNAL_ERROR, "Internal error", {"detail": str(exc)}))
                if has_id
                else None
            )
        return encode_response(req_id, result) if has_id else None

    async def call(self, name: str, params: Any, ctx: C) -> Any:
        method = self.methods.get(name)
        if method is None:
            raise RpcError(METHOD_NOT_FOUND, "Method not found", {"method": name})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise RpcError(INVALID_PARAMS, "Invalid params", {"detail": "params must be an object (by-name)"})
        try:
            parsed = method.params.model_validate(params)
        except ValidationError as exc:
            raise RpcError(INVALID_PARAMS, "Invalid params", {"errors": _validation_details(exc)}) from None
        bind_params(parsed, name)  # this call's logs carry its session id; secrets in its env are never logged
        return await method.handler(parsed, ctx)
