"""The ACP agent side of `sandbox-agent acp`: each ACP session is one daemon session, reached only through a
JSON-RPC backend (the state dir's daemon, a private one, or a server), so the journal, resume and HITL of the
daemon sit behind every ACP client.

- `session/new` picks the agent from `_meta` (`{"sandboxAgent": {"agent": "claude", "env": {...},
  "permissionMode": "default", "model": "..."}}`, or a bare `"agent"`), default `--agent` (mock), and offers it as
  the `agent` config option, which may change until the first prompt: the daemon session (same id) is created
  then;
- `session/prompt` sends a message and answers when the turn's `turn.ended` arrives, after its updates;
- permissions become `session/request_permission`; questions become `elicitation/create` (form) when the client
  supports it, else they are rejected so the turn goes on;
- `session/load` replays the transcript (user messages too) and follows the live session from there;
- `session/cancel` interrupts; `session/set_mode` switches the permission mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from acp import PROTOCOL_VERSION, RequestError
from acp import schema as S

from .. import __version__
from ..mcp.backend import Backend
from ..rpc.errors import RpcError
from ..sessions.clock import new_id
from .updates import UpdateMapper

log = logging.getLogger(__name__)

MODES = [
    S.SessionMode(id="default", name="Default", description="Ask before edits and commands"),
    S.SessionMode(id="accept_edits", name="Accept edits", description="Edit without asking, ask for commands"),
    S.SessionMode(id="plan", name="Plan", description="Read-only planning"),
    S.SessionMode(id="bypass", name="Bypass", description="Never ask"),
]
STOP_REASONS = {"end_turn": "end_turn", "max_tokens": "max_tokens", "refusal": "refusal"}
PERMISSION_OPTIONS = [
    S.PermissionOption(option_id="once", name="Allow", kind="allow_once"),
    S.PermissionOption(option_id="always", name="Allow for this session", kind="allow_always"),
    S.PermissionOption(option_id="reject", name="Reject", kind="reject_once"),
]
PAGE = 500


def as_request_error(exc: RpcError) -> RequestError:
    return RequestError(exc.code, exc.message, exc.data)


def content_parts(blocks: list[Any]) -> list[dict[str, Any]]:
    """ACP prompt blocks as our message parts."""
    parts: list[dict[str, Any]] = []
    for b in blocks:
        if isinstance(b, S.TextContentBlock):
            parts.append({"type": "text", "text": b.text})
        elif isinstance(b, S.ImageContentBlock):
            parts.append({"type": "image", "mime": b.mime_type, "data": b.data})
        elif isinstance(b, S.ResourceContentBlock):
            path = b.uri.removeprefix("file://")
            parts.append({"type": "file", "path": path, "name": b.name} if b.uri.startswith("file://") else
                         {"type": "text", "text": f"<resource {b.uri}>"})
        elif isinstance(b, S.EmbeddedResourceContentBlock):
            text = getattr(b.resource, "text", None)
            if text is not None:
                parts.append({"type": "text", "text": f"<resource {b.resource.uri}>\n{text}\n</resource>"})
            else:
                parts.append({"type": "file", "data": b.resource.blob, "mime": b.resource.mime_type,
                              "name": b.resource.uri.rsplit("/", 1)[-1]})
    return parts or [{"type": "text", "text": ""}]


class Bridge:
    """One ACP session following one daemon session's events."""

    def __init__(self, session_id: str, offset: int) -> None:
        self.session_id = session_id
        self.offset = offset
        self.mapper = UpdateMapper()
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.finished: dict[str, dict[str, Any]] = {}
        self.last_error: str | None = None
        self.kick = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.hitl: dict[str, asyncio.Task[None]] = {}


class SandboxAcpAgent:
    def __init__(self, backend: Backend, default_agent: str = "mock") -> None:
        self.backend = backend
        self.default_agent = default_agent
        self.conn: Any = None
        self.client_caps: S.ClientCapabilities | None = None
        self.bridges: dict[str, Bridge] = {}
        self.pending: dict[str, dict[str, Any]] = {}  # session/new params of sessions not prompted yet
        self.agents: list[str] = []

    def on_connect(self, conn: Any) -> None:
        self.conn = conn

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        try:
            return await self.backend.call(method, params)
        except RpcError as exc:
            raise as_request_error(exc) from None

    # setup

    async def initialize(
        self, protocol_version: int, client_capabilities: S.ClientCapabilities | None = None, **kwargs: Any
    ) -> S.InitializeResponse:
        self.client_caps = client_capabilities
        agents = (await self._call("agents/list", {}))["agents"]
        self.agents = [a["id"] for a in agents]
        caps = S.AgentCapabilities(
            load_session=True,
            prompt_capabilities=S.PromptCapabilities(image=True, embedded_context=True),
            session_capabilities=S.SessionCapabilities(list=S.SessionListCapabilities()),
        )
        return S.InitializeResponse(
            protocol_version=min(protocol_version, PROTOCOL_VERSION),
            agent_capabilities=caps,
            agent_info=S.Implementation(name="sandbox-agent", title="Sandbox Agent", version=__version__),
            auth_methods=[],
            field_meta={"sandboxAgent": {"agents": [a["id"] for a in agents], "defaultAgent": self.default_agent}},
        )

    async def authenticate(self, method_id: str, **kwargs: Any) -> S.AuthenticateResponse:
        return S.AuthenticateResponse()

    async def new_session(self, cwd: str, mcp_servers: list[Any] | None = None, **meta: Any) -> S.NewSessionResponse:
        opts = meta.get("sandboxAgent") if isinstance(meta.get("sandboxAgent"), dict) else {}
        agent = opts.get("agent") or meta.get("agent") or self.default_agent
        mode = opts.get("permissionMode") or opts.get("permission_mode") or "default"
        params: dict[str, Any] = {"agent": agent, "cwd": cwd, "permission_mode": mode}
        if opts.get("env"):
            params["env"] = opts["env"]
        if opts.get("model"):
            params["model"] = opts["model"]
        servers = [s for s in (self._mcp(s) for s in mcp_servers or []) if s]
        if servers:
            params["mcp_servers"] = servers
        await self._check_agent(agent)
        session_id = params["session_id"] = new_id("ses_")
        self.pending[session_id] = params
        modes = S.SessionModeState(current_mode_id=mode, available_modes=MODES)
        meta_out = {"sandboxAgent": {"agent": agent}}
        return S.NewSessionResponse(
            session_id=session_id, modes=modes, config_options=self._options(agent), field_meta=meta_out
        )

    async def _check_agent(self, agent: Any) -> None:
        if not self.agents:
            self.agents = [a["id"] for a in (await self._call("agents/list", {}))["agents"]]
        if agent not in self.agents:
            raise RequestError.invalid_params({"agent": agent, "known": self.agents})

    def _options(self, agent: str) -> list[Any]:
        choices = [S.SessionConfigSelectOption(value=a, name=a) for a in self.agents]
        select = S.SessionConfigOptionSelect(
            type="select", id="agent", name="Agent", current_value=agent, options=choices,
            description="The coding agent behind this session (until the first prompt)",
        )
        return [select]

    async def set_config_option(
        self, config_id: str, session_id: str, value: str | bool, **kwargs: Any
    ) -> S.SetSessionConfigOptionResponse:
        if config_id != "agent":
            raise RequestError.invalid_params({"config_id": config_id, "known": ["agent"]})
        params = self.pending.get(session_id)
        if params is None:
            if session_id in self.bridges:
                raise RequestError.invalid_params({"details": "the agent is chosen before the first prompt"})
            raise RequestError.invalid_params({"session_id": session_id, "details": "unknown session"})
        await self._check_agent(value)
        params["agent"] = value
        return S.SetSessionConfigOptionResponse(config_options=self._options(str(value)))

    async def _materialize(self, session_id: str) -> None:
        """Create the daemon session of a session/new (on its first prompt)."""
        params = self.pending.pop(session_id, None)
        if params is None:
            return
        try:
            info = await self._call("sessions/create", params)
        except RequestError:
            self.pending[session_id] = params  # fix the agent or env with another session/new, or retry
            raise
        self._follow(info["session_id"], info.get("event_count", 0))

    @staticmethod
    def _mcp(server: Any) -> dict[str, Any] | None:
        if isinstance(server, S.McpServerStdio):
            env = {e.name: e.value for e in server.env or []}
            return {"name": server.name, "command": server.command, "args": list(server.args), "env": env}
        if isinstance(server, S.HttpMcpServer | S.SseMcpServer):
            return {"name": server.name, "url": server.url, "headers": {h.name: h.value for h in server.headers}}
        return None

    async def load_session(self, cwd: str, session_id: str, **kwargs: Any) -> S.LoadSessionResponse:
        if session_id in self.pending:  # never prompted: nothing to replay
            mode = self.pending[session_id]["permission_mode"]
            return S.LoadSessionResponse(modes=S.SessionModeState(current_mode_id=mode, available_modes=MODES))
        info = await self._call("sessions/get", {"session_id": session_id})
        old = self.bridges.pop(session_id, None)
        if old is not None and old.task is not None:
            old.task.cancel()
        mapper = UpdateMapper()
        pending: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = await self._call("sessions/events", {"session_id": session_id, "offset": offset, "limit": PAGE})
            for event in page["events"]:
                for update in mapper.updates(event, replay=True):
                    await self.conn.session_update(session_id, update)
                self._track_hitl(event, pending)
            offset = page["next_offset"]
            if not page["has_more"]:
                break
        bridge = self._follow(session_id, offset)
        bridge.mapper = mapper
        for event in pending.values():  # still waiting for an answer: ask this client too
            self._hitl(bridge, event)
        mode = info.get("permission_mode") or "default"
        return S.LoadSessionResponse(modes=S.SessionModeState(current_mode_id=mode, available_modes=MODES))

    @staticmethod
    def _track_hitl(event: dict[str, Any], pending: dict[str, dict[str, Any]]) -> None:
        data = event.get("data") or {}
        key = data.get("permission_id") or data.get("question_id")
        if event.get("type") in ("permission.requested", "question.requested"):
            pending[key] = event
        elif event.get("type") in ("permission.resolved", "question.resolved", "session.ended"):
            pending.pop(key, None)
            if event.get("type") == "session.ended":
                pending.clear()

    async def list_sessions(
        self, cwd: str | None = None, cursor: str | None = None, **kwargs: Any
    ) -> S.ListSessionsResponse:
        sessions = await self._call("sessions/list", {})
        items = sessions if isinstance(sessions, list) else sessions.get("sessions", [])
        return S.ListSessionsResponse(
            sessions=[
                S.SessionInfo(session_id=s["session_id"], cwd=s["cwd"], title=f"{s['agent']} {s['session_id']}",
                              updated_at=s.get("created_at"))
                for s in items
                if cwd is None or s.get("cwd") == cwd
            ]
        )

    async def set_session_mode(self, session_id: str, mode_id: str, **kwargs: Any) -> S.SetSessionModeResponse:
        if mode_id not in {m.id for m in MODES}:
            raise RequestError.invalid_params({"mode_id": mode_id, "modes": [m.id for m in MODES]})
        if session_id in self.pending:
            self.pending[session_id]["permission_mode"] = mode_id
            return S.SetSessionModeResponse()
        await self._call("sessions/configure", {"session_id": session_id, "permission_mode": mode_id})
        return S.SetSessionModeResponse()

    # turns

    def _bridge(self, session_id: str) -> Bridge:
        bridge = self.bridges.get(session_id)
        if bridge is None:
            raise RequestError.invalid_params(
                {"session_id": session_id, "details": "unknown session: session/new or session/load it first"}
            )
        return bridge

    async def prompt(self, session_id: str, prompt: list[Any], **kwargs: Any) -> S.PromptResponse:
        await self._materialize(session_id)
        bridge = self._bridge(session_id)
        sent = await self._call("sessions/send_message", {"session_id": session_id, "content": content_parts(prompt)})
        turn_id = sent["turn_id"]
        bridge.kick.set()  # the session may have been resumed: follow it again
        data = bridge.finished.pop(turn_id, None)
        if data is None:
            fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            bridge.waiting[turn_id] = fut
            try:
                data = await fut
            finally:
                bridge.waiting.pop(turn_id, None)
        reason = data.get("stop_reason") or "end_turn"
        if reason == "error":
            raise RequestError.internal_error({"turn_id": turn_id, "details": bridge.last_error or "the turn failed"})
        usage = data.get("usage") or {}
        acp_usage = None
        if usage.get("input_tokens") is not None and usage.get("output_tokens") is not None:
            total = usage["input_tokens"] + usage["output_tokens"]
            acp_usage = S.Usage(
                input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"], total_tokens=total
            )
        stop = "cancelled" if reason in ("interrupted", "cancelled") else STOP_REASONS.get(reason, "end_turn")
        return S.PromptResponse(stop_reason=stop, usage=acp_usage, field_meta={"sandboxAgent": {"turnId": turn_id}})  # type: ignore[arg-type]

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        if session_id in self.pending:
            return
        with contextlib.suppress(RequestError):
            await self._call("sessions/interrupt", {"session_id": session_id})

    # following a daemon session

    def _follow(self, session_id: str, offset: int) -> Bridge:
        bridge = Bridge(session_id, offset)
        self.bridges[session_id] = bridge
        bridge.task = asyncio.ensure_future(self._forward(bridge))
        return bridge

    async def _forward(self, bridge: Bridge) -> None:
        while True:
            bridge.kick.clear()
            try:
                async for event in self.backend.events(bridge.session_id, bridge.offset):
                    bridge.offset = max(bridge.offset, int(event.get("sequence", 0)))
                    await self._deliver(bridge, event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("acp: following %s failed", bridge.session_id)
                await asyncio.sleep(0.5)
            # the session ended (or the stream broke): wait until a prompt wakes it up again
            for fut in list(bridge.waiting.values()):
                if not fut.done():
                    fut.set_result({"stop_reason": "error"})
            await bridge.kick.wait()

    async def _deliver(self, bridge: Bridge, event: dict[str, Any]) -> None:
        kind = event.get("type")
        data = event.get("data") or {}
        for update in bridge.mapper.updates(event):
            await self.conn.session_update(bridge.session_id, update)
        if kind == "error" or (kind == "session.ended" and data.get("reason") == "error"):
            bridge.last_error = data.get("message") or bridge.last_error
        elif kind == "turn.started":
            bridge.last_error = None
        elif kind == "turn.ended":
            fut = bridge.waiting.get(data.get("turn_id", ""))
            if fut is not None and not fut.done():
                fut.set_result(data)
            else:
                bridge.finished[data.get("turn_id", "")] = data
        elif kind in ("permission.requested", "question.requested"):
            self._hitl(bridge, event)
        elif kind in ("permission.resolved", "question.resolved"):
            task = bridge.hitl.pop(data.get("permission_id") or data.get("question_id"), None)
            if task is not None and not task.done():
                task.cancel()  # answered elsewhere (another client, a timeout)

    def _hitl(self, bridge: Bridge, event: dict[str, Any]) -> None:
        data = event["data"]
        if event["type"] == "permission.requested":
            key, coro = data["permission_id"], self._ask_permission(bridge.session_id, data)
        else:
            key, coro = data["question_id"], self._ask_question(bridge.session_id, data)
        task = asyncio.ensure_future(coro)
        bridge.hitl[key] = task
        task.add_done_callback(lambda _t: bridge.hitl.pop(key, None) if bridge.hitl.get(key) is _t else None)

    async def _ask_permission(self, session_id: str, data: dict[str, Any]) -> None:
        meta = data.get("metadata") or {}
        tool = S.ToolCallUpdate(
            tool_call_id=str(meta.get("tool_call_id") or meta.get("tool_use_id") or data["permission_id"]),
            title=data.get("action"),
            raw_input=meta.get("input"),
        )
        try:
            options = PERMISSION_OPTIONS
            answer = await self.conn.request_permission(session_id=session_id, tool_call=tool, options=options)
        except (RequestError, ConnectionError) as exc:
            # the client could not answer: reject rather than leave the turn waiting for nobody
            log.warning("acp: session/request_permission failed (%s %s); rejecting", exc, getattr(exc, "data", ""))
            answer = S.RequestPermissionResponse(outcome=S.DeniedOutcome(outcome="cancelled"))
        outcome = answer.outcome
        reply = outcome.option_id if isinstance(outcome, S.AllowedOutcome) else "reject"
        if reply not in ("once", "always", "reject"):
            reply = "reject"
        params = {"session_id": session_id, "permission_id": data["permission_id"], "reply": reply}
        with contextlib.suppress(RpcError):  # answered elsewhere first: that answer stands
            await self.backend.call("permissions/reply", params)

    async def _ask_question(self, session_id: str, data: dict[str, Any]) -> None:
        questions = data.get("questions") or [{"prompt": data.get("prompt", ""), "options": [
            {"label": o} for o in data.get("options") or []]}]
        caps = self.client_caps
        if caps is None or caps.elicitation is None or caps.elicitation.form is None:
            with contextlib.suppress(RpcError):  # the client cannot answer: do not leave the turn waiting
                params = {"session_id": session_id, "question_id": data["question_id"]}
                await self.backend.call("questions/reject", params)
            return
        props: dict[str, Any] = {}
        for i, q in enumerate(questions):
            labels = [str(o.get("label", "")) for o in q.get("options") or []]
            schema: dict[str, Any] = {"type": "string", "title": q.get("header") or q.get("prompt") or f"q{i}"}
            if labels:
                schema["enum"] = labels
            props[f"q{i}"] = schema
        requested = S.ElicitationSchema.model_validate({"type": "object", "properties": props, "required": list(props)})
        mode = S.ElicitationFormSessionMode(session_id=session_id, requested_schema=requested)
        result = await self.conn.create_elicitation(message=data.get("prompt") or "The agent has a question", mode=mode)
        action = getattr(result, "action", "cancel")
        if action == "accept":
            content = getattr(result, "content", None) or {}
            answers = [[str(content.get(f"q{i}", ""))] for i in range(len(questions))]
            method, params = "questions/reply", {"answers": answers}
        else:
            method, params = "questions/reject", {}
        with contextlib.suppress(RpcError):
            await self.backend.call(method, {"session_id": session_id, "question_id": data["question_id"], **params})

    async def close(self) -> None:
        for bridge in self.bridges.values():
            if bridge.task is not None:
                bridge.task.cancel()
            for task in bridge.hitl.values():
                task.cancel()
