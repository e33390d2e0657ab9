"""Bearer-token auth for HTTP and WebSocket; only /v1/health and the Inspector's static files (/ui/) are open.

Browsers cannot set headers on a WebSocket, so the token may also travel as a subprotocol
`sandbox-agent.bearer.<base64url(token)>`: it stays out of URLs and access logs, and the server never echoes it.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from ..schema.wire import SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX, token_subprotocol
from ..ui import is_static_path

OPEN_PATHS = frozenset({"/v1/health"})
__all__ = ["SUBPROTOCOL", "TokenAuth", "token_subprotocol"]


def _from_subprotocols(header: str) -> str | None:
    for proto in (p.strip() for p in header.split(",")):
        if proto.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            raw = proto[len(TOKEN_SUBPROTOCOL_PREFIX) :]
            try:
                return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


def presented_token(scope: Scope) -> str | None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if scope["type"] == "websocket":
        return _from_subprotocols(headers.get("sec-websocket-protocol", ""))
    return None


class TokenAuth:
    """Pure ASGI middleware: constant-time comparison, 401 for HTTP, a refused handshake for WebSocket."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self._token = token.encode() if token else None

    def allowed(self, scope: Scope) -> bool:
        if self._token is None or scope.get("path") in OPEN_PATHS:
            return True
        if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD") and is_static_path(scope["path"]):
            return True  # the Inspector's static files: the page asks for the token, the API still needs it
        given = presented_token(scope)
        return given is not None and hmac.compare_digest(given.encode(), self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
            return
        body = (
            b'{"jsonrpc":"2.0","id":null,"error":{"code":-32050,"message":"missing or wrong bearer token",'
            b'"data":{"kind":"unauthorized"}}}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="sandbox-agent"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
