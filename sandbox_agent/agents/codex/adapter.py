"""Codex sessions: a thread per daemon session on a shared `codex app-server`."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import TYPE_CHECKING, Any

from ...rpc.errors import AppError
from ...schema.agents import AgentCapabilities
from ...schema.content import FilePart, ImagePart, InputPart, TextPart
from ...schema.control import AgentControl, ConfigureHow
from ...schema.errors import ErrorKind
from ...schema.methods import PermissionMode, PermissionReply
from ...sessions.clock import new_id
from ..base import AgentSession, EventSink, SessionConfig
from ..shared_servers import pinned_launch
from .app_server import AppServer
from .translator import CodexTranslator

if TYPE_CHECKING:
    from .driver import CodexDriver

log = logging.getLogger(__name__)

# permission mode -> (approvalPolicy, sandbox) for thread/start
POLICIES = {
    "default": ("untrusted", "workspace-write"),
    "plan": ("untrusted", "read-only"),
    "accept_edits": ("on-request", "workspace-write"),
    "bypass": ("never", "danger-full-access"),
}
DECISIONS = {"once": "accept", "always": "acceptForSession", "reject": "decline"}
# the same modes as turn overrides (turn/start takes a sandbox policy object, not a mode name)
SANDBOX_POLICIES = {
    "workspace-write": {"type": "workspaceWrite"},
    "read-only": {"type": "readOnly"},
    "danger-full-access": {"type": "dangerFullAccess"},
}
CONTROL = AgentControl(
    steer="native",  # turn/steer into the running turn
    fork="native",  # thread/fork {lastTurnId}
    configure_model="next_turn",  # turn/start {model}: "this turn and subsequent turns"
    configure_permission_mode="next_turn",  # turn/start {approvalPolicy, sandboxPolicy}
    configure_agent_mode="no",
)

CAPABILITIES = AgentCapabilities(
    text="yes",
    streaming_deltas="yes",
    tool_calls="yes",
    tool_results="yes",
    questions="no",  # request_user_input is not wired up
    permissions="yes",
    images="yes",
    file_attachments="partial",  # by path in the prompt text
    lifecycle="yes",
    errors="yes",
    reasoning="yes",
    command_execution="yes",
    file_changes="yes",
    mcp_tools="partial",  # translated, not exercised by tests
    interrupt="yes",
    resume="yes",
)


def input_items(parts: list[InputPart]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            items.append({"type": "text", "text": part.text, "text_elements": []})
        elif isinstance(part, ImagePart):
            if part.path:
                items.append({"type": "localImage", "path": part.path})
            else:
                items.append({"type": "image", "url": f"data:{part.mime};base64,{part.data}"})
        elif isinstance(part, FilePart):
            if part.path:
                items.append({"type": "text", "text": f"<attached file: {part.path}>", "text_elements": []})
            else:
                text = base64.b64decode(part.data or "").decode("utf-8", "replace")
                items.append(
                    {
                        "type": "text",
                        "text": f"<attached file {part.name or 'attachment'}>\n{text}",
                        "text_elements": [],
                    }
                )
    return items


class CodexSession(AgentSession):
    def __init__(self, config: SessionConfig, sink: EventSink, driver: CodexDriver) -> None:
        super().__init__(config, sink)
        self.driver = driver
        self.translator = CodexTranslator(new_id)
        self.server: AppServer | None = None
        self.thread_id: str | None = config.resume_native_id
        self._requests: dict[str, Any] = {}  # permission id -> JSON-RPC request id
        self._overrides: dict[str, Any] = {}  # sessions/configure: sent with every turn/start from now on
        launch_model, launch_mode = pinned_launch(config)  # what the thread was started with
        if (config.model and config.model != launch_model) or config.permission_mode != launch_mode:
            self._overrides = self._overrides_for(config.model, config.permission_mode)

    async def _server(self) -> AppServer:
        """The live app-server for this session, restarted (and the thread resumed) after a crash."""
        if self.server is not None and self.server.alive:
            return self.server
        self.server = await self.driver.server_for(self.config)
        if self.thread_id is not None:
            self.server.threads[self.thread_id] = self
            if not await self._resume(self.server):
                raise AppError(ErrorKind.AGENT_ERROR, f"codex could not resume thread {self.thread_id}")
        return self.server

    async def _resume(self, server: AppServer) -> bool:
        try:
            await server.request("thread/resume", {"threadId": self.thread_id})
            return True
        except AppError as exc:
            log.warning("thread/resume %s failed: %s", self.thread_id, exc.message)
            return False

    async def start(self) -> None:
        if self.thread_id is not None:
            await self._server()
            return
        server = await self._server()
        approval, sandbox = POLICIES[self.config.permission_mode]
        params: dict[str, Any] = {"cwd": self.config.cwd, "approvalPolicy": approval, "sandbox": sandbox}
        if self.config.model:
            params["model"] = self.config.model
        fork = self.config.fork
        if fork is not None and fork.turns > 0:
            params = {**params, "threadId": fork.source_native_id}
            del params["cwd"]
            if not fork.whole:
                params["lastTurnId"] = await self._turn_id_at(server, fork.source_native_id, fork.turns)
            result = await server.request("thread/fork", params)
        else:
            result = await server.request("thread/start", params)
        self.thread_id = result["thread"]["id"]
        server.threads[self.thread_id] = self
        self.sink.set_native_session_id(self.thread_id)

    async def _turn_id_at(self, server: AppServer, thread_id: str, n: int) -> str:
        """The native id of the thread's n-th turn (1-based), for thread/fork {lastTurnId}."""
        result = await server.request("thread/read", {"threadId": thread_id, "includeTurns": True})
        turns = (result.get("thread") or {}).get("turns") or []
        if len(turns) < n:
            raise AppError(ErrorKind.AGENT_ERROR, f"codex thread {thread_id} has {len(turns)} turns, not {n}")
        return str(turns[n - 1]["id"])

    async def send(self, turn_id: str, content: list[InputPart]) -> None:
        server = await self._server()
        self.translator.turn_id = turn_id
        params = {"threadId": self.thread_id, "input": input_items(content), **self._overrides}
        result = await server.request("turn/start", params)
        self.translator.native_turn_id = (result.get("turn") or {}).get("id")

    async def steer(self, content: list[InputPart]) -> bool:
        if self.server is None or not self.server.alive or self.translator.native_turn_id is None:
            return False
        params = {"threadId": self.thread_id, "expectedTurnId": self.translator.native_turn_id}
        await self.server.request("turn/steer", {**params, "input": input_items(content)})
        return True

    async def configure(
        self, model: str | None, agent_mode: str | None, permission_mode: PermissionMode | None
    ) -> ConfigureHow:
        self._overrides.update(self._overrides_for(model, permission_mode))
        return "next_turn"

    @staticmethod
    def _overrides_for(model: str | None, permission_mode: PermissionMode | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if model is not None:
            out["model"] = model
        if permission_mode is not None:
            approval, sandbox = POLICIES[permission_mode]
            out.update(approvalPolicy=approval, sandboxPolicy=SANDBOX_POLICIES[sandbox])
        return out

    async def interrupt(self) -> None:
        if self.server is None or not self.server.alive or self.translator.native_turn_id is None:
            return
        await self.server.request(
            "turn/interrupt", {"threadId": self.thread_id, "turnId": self.translator.native_turn_id}
        )

    async def reply_permission(self, permission_id: str, reply: PermissionReply, message: str | None) -> None:
        rid = self._requests.pop(permission_id, None)
        self.translator.pending.pop(permission_id, None)
        if rid is None or self.server is None:
            raise AppError(ErrorKind.PERMISSION_NOT_FOUND, f"codex is no longer waiting on {permission_id}")
        await self.server.respond(rid, {"decision": DECISIONS[reply]})

    async def reply_question(self, question_id: str, answers: list[list[str]] | None) -> None:
        raise AppError(ErrorKind.QUESTION_NOT_FOUND, "codex sessions do not ask questions")

    async def terminate(self) -> None:
        if self.server is not None and self.thread_id is not None:
            if self.translator.native_turn_id is not None and self.server.alive:
                try:
                    await asyncio.wait_for(self.interrupt(), 5)
                except (AppError, TimeoutError):
                    pass
            self.server.threads.pop(self.thread_id, None)

    # ThreadListener

    def on_notification(self, method: str, params: dict[str, Any]) -> None:
        for e in self.translator.translate(method, params):
            self.sink.emit(e.type, e.data, synthetic=e.synthetic, raw={"method": method, "params": params})

    def on_request(self, request_id: Any, method: str, params: dict[str, Any]) -> None:
        emissions = self.translator.approval(request_id, method, params)
        for e in emissions:
            if e.type == "permission.requested":
                self._requests[e.data.permission_id] = request_id  # type: ignore[attr-defined]
            self.sink.emit(e.type, e.data, raw={"method": method, "params": params})

    def on_server_exit(self, code: int, stderr: str) -> None:
        self._requests.clear()
        self.translator.pending.clear()
        message = f"codex app-server exited with code {code}; the next message restarts it and resumes this thread"
        for e in self.translator.fail_turn(message + (f" (stderr: {stderr[-500:]})" if stderr else "")):
            self.sink.emit(e.type, e.data, synthetic=True)
