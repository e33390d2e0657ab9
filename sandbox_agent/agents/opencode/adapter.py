"""OpenCode sessions: one OpenCode session per daemon session on a shared `opencode serve`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ...rpc.errors import AppError
from ...schema.agents import AgentCapabilities
from ...schema.content import FilePart, ImagePart, InputPart, TextPart
from ...schema.events import ErrorData, PermissionData, TurnEndedData
from ...schema.methods import PermissionReply
from ...sessions.clock import new_id
from ..base import AgentSession, EventSink, SessionConfig
from .serve import OpenCodeServer
from .translator import OpenCodeTranslator

if TYPE_CHECKING:
    from .driver import OpenCodeDriver

log = logging.getLogger(__name__)

CAPABILITIES = AgentCapabilities(
    text="yes",
    streaming_deltas="yes",
    tool_calls="yes",
    tool_results="yes",
    questions="yes",
    permissions="yes",
    images="yes",
    file_attachments="yes",
    lifecycle="yes",
    errors="yes",
    reasoning="yes",
    command_execution="yes",
    file_changes="yes",
    mcp_tools="partial",  # OpenCode runs MCP tools as ordinary tools (tool_call items); not exercised by tests
    interrupt="yes",
    resume="yes",
)


def parts_for(content: list[InputPart]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            url = f"file://{part.path}" if part.path else f"data:{part.mime};base64,{part.data}"
            parts.append(
                {"type": "file", "mime": part.mime, "url": url, "filename": (part.path or "image").rsplit("/", 1)[-1]}
            )
        elif isinstance(part, FilePart):
            mime = part.mime or "text/plain"
            url = f"file://{part.path}" if part.path else f"data:{mime};base64,{part.data}"
            parts.append(
                {
                    "type": "file",
                    "mime": mime,
                    "url": url,
                    "filename": part.name or (part.path or "file").rsplit("/", 1)[-1],
                }
            )
    return parts


class OpenCodeSession(AgentSession):
    def __init__(self, config: SessionConfig, sink: EventSink, driver: OpenCodeDriver) -> None:
        super().__init__(config, sink)
        self.driver = driver
        self.translator = OpenCodeTranslator(new_id)
        self.server: OpenCodeServer | None = None
        self.oc_session: str | None = config.resume_native_id

    async def _server(self) -> OpenCodeServer:
        if self.server is None or not self.server.alive:
            self.server = await self.driver.server_for(self.config)
            if self.oc_session is not None:
                self.server.sessions[self.oc_session] = self
        return self.server

    async def start(self) -> None:
        server = await self._server()
        if self.oc_session is None:
            body: dict[str, Any] = {"title": f"sandbox-agent {self.config.session_id}"}  # a title: no title request
            info = await server.call("POST", "/session", self.config.cwd, body)
            self.oc_session = info["id"]
            server.sessions[self.oc_session] = self
        self.sink.set_native_session_id(self.oc_session)

    async def send(self, turn_id: str, content: list[InputPart]) -> None:
        server = await self._server()
        self.translator.turn_id = turn_id
        body: dict[str, Any] = {"parts": parts_for(content)}
        if self.config.agent_mode in ("build", "plan"):
            body["agent"] = self.config.agent_mode
        await server.call("POST", f"/session/{self.oc_session}/prompt_async", self.config.cwd, body)

    async def interrupt(self) -> None:
        server = await self._server()
        self.translator.aborting = True
        await server.call("POST", f"/session/{self.oc_session}/abort", self.config.cwd)
        # OpenCode leaves a pending permission listed after an abort: reject it so nothing dangles.
        for request_id, pending in list(self.translator.pending.items()):
            if isinstance(pending, PermissionData):
                try:
                    await server.call("POST", f"/permission/{request_id}/reply", self.config.cwd, {"reply": "reject"})
                except AppError as exc:
                    log.debug("clearing permission %s after abort: %s", request_id, exc.message)

    async def reply_permission(self, permission_id: str, reply: PermissionReply, message: str | None) -> None:
        server = await self._server()
        body: dict[str, Any] = {"reply": reply}
        if message:
            body["message"] = message
        await server.call("POST", f"/permission/{permission_id}/reply", self.config.cwd, body)

    async def reply_question(self, question_id: str, answers: list[list[str]] | None) -> None:
        server = await self._server()
        if answers is None:
            await server.call("POST", f"/question/{question_id}/reject", self.config.cwd)
        else:
            await server.call("POST", f"/question/{question_id}/reply", self.config.cwd, {"answers": answers})

    async def terminate(self) -> None:
        if self.server is not None and self.server.alive and self.translator.turn_id is not None:
            try:
                await self.server.call("POST", f"/session/{self.oc_session}/abort", self.config.cwd)
            except AppError:
                pass
        if self.server is not None and self.oc_session is not None:
            self.server.sessions.pop(self.oc_session, None)

    # SessionListener

    def on_event(self, event: dict[str, Any]) -> None:
        for e in self.translator.translate(event):
            self.sink.emit(e.type, e.data, synthetic=e.synthetic, raw=event)

    def on_server_exit(self, code: int, stderr: str) -> None:
        for e in self.translator.items.fail_all():
            self.sink.emit(e.type, e.data, synthetic=True)
        message = f"opencode serve exited with code {code}; the next message restarts it and continues this session"
        self.sink.emit(
            "error", ErrorData(message=message, code="server_exited", details={"stderr": stderr[-500:]}), synthetic=True
        )
        self.translator.pending.clear()
        if self.translator.turn_id is not None:
            self.sink.emit(
                "turn.ended", TurnEndedData(turn_id=self.translator.turn_id, stop_reason="error"), synthetic=True
            )
            self.translator.turn_id = None
