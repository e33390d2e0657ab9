"""The Inspector: a static web UI served at /ui/ that speaks the same JSON-RPC over WebSocket as every client.

No build step: hand-written ES modules and CSS under static/. The files are public (the page asks for the token
itself and keeps it in sessionStorage); every API call the page makes still needs the token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
UI_PREFIX = "/ui"

# The page never runs inline script (inline style is allowed for xterm.js); it may call another daemon the user
# names (an Inspector pointed elsewhere), so connect-src is not limited to 'self'.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self' http: https: ws: wss:; frame-ancestors 'none'; base-uri 'none'"
)


class _InspectorFiles(StaticFiles):
    """Static files plus security headers; revalidated each load (ETag) so an upgrade is never half-cached."""

    def file_response(self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["content-security-policy"] = CSP
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "no-referrer"
        response.headers["cache-control"] = "no-cache"
        return response


def is_static_path(path: str) -> bool:
    """True for the Inspector's own files: the only paths besides /v1/health that answer without a token."""
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


def ui_routes() -> list[Any]:
    async def to_slash(request: Any) -> Response:
        return RedirectResponse(UI_PREFIX + "/", status_code=307)

    return [
        Route(UI_PREFIX, to_slash, methods=["GET", "HEAD"]),
        Mount(UI_PREFIX, app=_InspectorFiles(directory=STATIC_DIR, html=True), name="ui"),
    ]
