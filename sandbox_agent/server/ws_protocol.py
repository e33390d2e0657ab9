"""uvicorn's websockets-sansio protocol with one ASGI extension: several text frames in one transport write.

Each ASGI `websocket.send` is one `transport.write`: one syscall, which wakes the client. The events one journal
commit makes visible reach a subscriber together (`send_many`), so they are framed and written at once. The app
finds the extension in `scope["extensions"][SEND_TEXTS]` and falls back to plain ASGI sends without it. The
frames are written as the UTF-8 bytes they already are (ASGI's `text` is a str that uvicorn encodes again).
The protocol module is imported at the first upgrade: the websockets package costs ~12 ms and ~1 MB at start,
which a daemon driven over POST, stdio or its unix socket never needs.
"""

from __future__ import annotations

import functools
from typing import Any

SEND_TEXTS = "sandbox_agent.send_texts"


def websocket_protocol(**kwargs: Any) -> Any:
    """The factory uvicorn's `ws` setting calls for each upgraded connection."""
    return _protocol_class()(**kwargs)


@functools.cache
def _protocol_class() -> type:
    from uvicorn.protocols.utils import ClientDisconnected
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.exceptions import InvalidState

    class CoalescingWebSocketsProtocol(WebSocketsSansIOProtocol):
        def handle_connect(self, event: Any) -> None:
            super().handle_connect(event)
            scope = getattr(self, "scope", None)  # absent when the upgrade was refused
            if scope is not None:
                scope["extensions"][SEND_TEXTS] = self.send_texts

        async def send_texts(self, texts: list[bytes]) -> bool:
            """Frame and write UTF-8 texts in one write. False while the connection is not open for data (not
            accepted yet, closing, answered over HTTP): the caller then uses the plain ASGI send, which reports
            those states as before. Raises ClientDisconnected (an OSError) when the client is gone."""
            await self.writable.wait()
            if self.disconnected:
                raise ClientDisconnected()
            if not self.handshake_complete or self.close_sent or self.initial_response is not None:
                return False
            try:
                for text in texts:
                    self.conn.send_text(text)
            except InvalidState:
                raise ClientDisconnected() from None
            self.transport.write(b"".join(self.conn.data_to_send()))
            return True

    return CoalescingWebSocketsProtocol
