"""Wire constants shared by server and client: WebSocket subprotocols and the browser token form."""

from __future__ import annotations

import base64

SUBPROTOCOL = "sandbox-agent.v1"
TOKEN_SUBPROTOCOL_PREFIX = "sandbox-agent.bearer."


def token_subprotocol(token: str) -> str:
    """The token as a subprotocol (base64url, unpadded): how browsers authenticate a WebSocket."""
    return TOKEN_SUBPROTOCOL_PREFIX + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
