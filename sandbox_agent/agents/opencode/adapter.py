"""OpenCode sessions: one OpenCode session per daemon session on a shared `opencode serve`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ...rpc.errors import AppError
from ...schema.agents import AgentCapabilities
from ...schema.content import FilePart, ImagePart, InputPart, TextPart
from ...schema.control import AgentControl, ConfigureHow
from ...schema.errors import ErrorKind
from ...schema.events import ErrorData, PermissionData, TurnEndedData
from ...schema.methods import PermissionMode, PermissionReply
from ...sessions.clock import new_id
from ..base import AgentSession, EventSink, SessionConfig
from ..launch_env import OPENCODE_PERMISSION
from ..shared_servers import pinned_launch
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


# Measured on 1.18.33 (docs/decisions.md): prompt_async while the session is busy adds the user message to the
# running loop (the next model request carries it); mid-stream it restarts the step, with an extra session.idle.
CONTROL = AgentControl(
    steer="native",
    fork="native",  # POST /session/{id}/fork {messageID}
    configure_model="next_turn",  # the prompt's model
    configure_permission_mode="live",  # PATCH /session/{id} {permission}
    configure_agent_mode="next_turn",  # the prompt's agent
)
STEER_SETTLE = 0.3  # after an idle with a steer outstanding, how long to wait for OpenCode to pick it up


def permission_rules(mode: PermissionMode) -> list[dict[str, str]]:
    return [{"permission": k, "pattern": "*", "action": v} for k, v in OPENCODE_PERMISSION[mode].items()]


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
        self._launch_model, self._launch_mode = pinned_launch(config)  # what the shared server was started with
        self._steer_pending = False
        self._tasks: set[asyncio.Task[None]] = set()
        # a fork's copied messages replay as events on the new session: they are history, not the next turn
        self._copied: set[str] | None = set()

    async def _server(self) -> OpenCodeServer:
        if self.server is None or not self.server.alive:
            self.server = await self.driver.server_for(self.config)
            if self.oc_session is not None:
                self.server.sessions[self.oc_session] = self
        return self.server

    async def start(self) -> None:
        server = await self._server()
        if self.oc_session is None:
            fork = self.config.fork
            if fork is not None and fork.user_messages > 0:
                cut = {} if fork.whole else {"messageID": await self._first_left_out(server, fork)}
                info = await server.call("POST", f"/session/{fork.source_native_id}/fork", self.config.cwd, cut)
            else:
                body: dict[str, Any] = {"title": f"sandbox-agent {self.config.session_id}"}  # no title request
                info = await server.call("POST", "/session", self.config.cwd, body)
            self.oc_session = info["id"]
            if fork is not None and fork.user_messages > 0:
                self._copied = None  # drop every message event until we know which messages were copied
                server.sessions[self.oc_session] = self
                copied = await server.call("GET", f"/session/{self.oc_session}/message", self.config.cwd)
                self._copied = {str((m.get("info") or {}).get("id")) for m in copied or []}
            server.sessions[self.oc_session] = self
        if self.config.permission_mode != self._launch_mode:
            await self._set_permission(self.config.permission_mode)
        self.sink.set_native_session_id(self.oc_session)

    async def _first_left_out(self, server: OpenCodeServer, fork: Any) -> str:
        """The source's first user message after the fork point: the fork keeps everything before it."""
        messages = await server.call("GET", f"/session/{fork.source_native_id}/message", self.config.cwd)
        users = [m["info"]["id"] for m in messages or [] if (m.get("info") or {}).get("role") == "user"]
        if len(users) <= fork.user_messages:
            raise AppError(ErrorKind.AGENT_ERROR, f"opencode session {fork.source_native_id} has fewer messages")
        return str(users[fork.user_messages])

    async def _set_permission(self, mode: PermissionMode) -> None:
        server = await self._server()
        body = {"permission": permission_rules(mode)}
        await server.call("PATCH", f"/session/{self.oc_session}", self.config.cwd, body)

    def _prompt_body(self, content: list[InputPart]) -> dict[str, Any]:
        body: dict[str, Any] = {"parts": parts_for(content)}
        if self.config.agent_mode in ("build", "plan"):
            body["agent"] = self.config.agent_mode
        model = self.config.model
        if model and model != self._launch_model:  # a model chosen after launch goes with every prompt
            provider, _, name = model.partition("/")
            body["model"] = {"providerID": provider, "modelID": name} if name else {
                "providerID": "sandbox", "modelID": model
            }
        return body

    async def send(self, turn_id: str, content: list[InputPart]) -> None:
        server = await self._server()
        self.translator.turn_id = turn_id
        self._steer_pending = False
        path = f"/session/{self.oc_session}/prompt_async"
        await server.call("POST", path, self.config.cwd, self._prompt_body(content))

    async def steer(self, content: list[InputPart]) -> bool:
        if self.translator.turn_id is None:
            return False
        server = await self._server()
        self._steer_pending = True
        path = f"/session/{self.oc_session}/prompt_async"
        await server.call("POST", path, self.config.cwd, self._prompt_body(content))
        return True

    async def configure(
        self, model: str | None, agent_mode: str | None, permission_mode: PermissionMode | None
    ) -> ConfigureHow:
        if model is not None:
            await self._check_model(model)
            self.config.model = model
        if agent_mode is not None:
            self.config.agent_mode = agent_mode
        if permission_mode is not None:
            await self._set_permission(permission_mode)
            return "live"
        return "next_turn"

    async def _check_model(self, model: str) -> None:
        server = await self._server()
        found = await server.call("GET", "/config/providers", self.config.cwd) or {}
        known = [f"{p['id']}/{m}" for p in found.get("providers", []) for m in (p.get("models") or {})]
        wanted = model if "/" in model else f"sandbox/{model}"
        if wanted not in known:
            raise AppError(
                ErrorKind.NOT_SUPPORTED,
                f"opencode does not know model {model!r} here (known: {', '.join(known) or 'none'}); list the "
                "models a custom endpoint serves in SANDBOX_AGENT_MODELS",
                model=model,
                known=known,
            )

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
        if self._copied is None or self._copied:
            props = event.get("properties") or {}
            mid = (props.get("info") or {}).get("id") or (props.get("part") or {}).get("messageID") or props.get(
                "messageID"
            )
            if self._copied is None and str(event.get("type", "")).startswith("message."):
                return
            if mid is not None and self._copied and str(mid) in self._copied:
                return
        if event.get("type") == "session.idle" and self._steer_pending and self.translator.turn_id is not None:
            # OpenCode may still be picking up the steered message: end the turn only if it stays idle
            self._steer_pending = False
            task = asyncio.ensure_future(self._idle_after_steer(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        for e in self.translator.translate(event):
            self.sink.emit(e.type, e.data, synthetic=e.synthetic, raw=event)

    async def _idle_after_steer(self, event: dict[str, Any]) -> None:
        await asyncio.sleep(STEER_SETTLE)
        try:
            status = await (await self._server()).call("GET", "/session/status", self.config.cwd) or {}
        except AppError:
            status = {}
        if (status.get(self.oc_session) or {}).get("type") != "busy":
            self.on_event(event)  # still idle: the turn is over (a later real idle would find no turn: ignored)

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
