"""One daemon session on any ACP agent: its process, the ACP connection (official library) and one ACP session.

`send` runs `session/prompt` in the background (its result ends the turn); `interrupt` is `session/cancel`;
permission requests wait for `permissions/reply`; resume is `session/load` (or `session/resume`) of the native
session id. If the agent dies or writes something that is not JSON-RPC, the turn ends with an `error` event and
the session with `session.ended`, and nothing waits on it any more.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from pathlib import Path
from typing import Any

from acp import PROTOCOL_VERSION, RequestError
from acp import schema as S
from acp.client.connection import ClientSideConnection

from ... import __version__
from ...rpc.errors import AppError
from ...schema.content import FilePart, ImagePart, InputPart, TextPart
from ...schema.errors import ErrorKind
from ...schema.events import ErrorData, PermissionData
from ...schema.methods import McpServerConfig, PermissionReply
from ...sessions.clock import new_id
from ..base import AgentSession, EventSink, SessionConfig
from ..lines import report_exit
from ..process import AgentProcess
from .client import AcpClient
from .launch import AcpLaunch
from .translator import AcpTranslator
from .transport import ProcessTransport
from .workspace import Terminals, Workspace

log = logging.getLogger(__name__)

START_TIMEOUT = 90.0
CANCEL_GRACE = 10.0
REPLY_KINDS: dict[str, tuple[str, ...]] = {
    "once": ("allow_once", "allow_always"),
    "always": ("allow_always", "allow_once"),
    "reject": ("reject_once", "reject_always"),
}


def mcp_servers(configs: list[McpServerConfig]) -> list[Any]:
    out: list[Any] = []
    for s in configs:
        if s.command:
            env = [S.EnvVariable(name=k, value=v) for k, v in (s.env or {}).items()]
            out.append(S.McpServerStdio(name=s.name, command=s.command, args=list(s.args or []), env=env))
        elif s.url:
            headers = [S.HttpHeader(name=k, value=v) for k, v in (s.headers or {}).items()]
            out.append(S.HttpMcpServer(type="http", name=s.name, url=s.url, headers=headers))
    return out


def prompt_blocks(parts: list[InputPart], images: bool) -> list[Any]:
    blocks: list[Any] = []
    for part in parts:
        if isinstance(part, TextPart):
            blocks.append(S.TextContentBlock(type="text", text=part.text))
        elif isinstance(part, ImagePart) and images:
            data = part.data or base64.b64encode(Path(part.path or "").read_bytes()).decode()
            blocks.append(S.ImageContentBlock(type="image", data=data, mime_type=part.mime))
        elif isinstance(part, FilePart | ImagePart) and getattr(part, "path", None):
            path = str(Path(part.path or "").resolve())
            blocks.append(S.ResourceContentBlock(type="resource_link", uri=f"file://{path}", name=Path(path).name))
        else:
            blocks.append(S.TextContentBlock(type="text", text="<attached inline file>"))
    return blocks


class AcpSession(AgentSession):
    def __init__(self, config: SessionConfig, sink: EventSink, launch: AcpLaunch) -> None:
        super().__init__(config, sink)
        self.launch = launch
        self.workspace = Workspace(config.cwd)
        self.terminals = Terminals(self.workspace, config.env)
        self.translator = AcpTranslator(new_id, self.terminals.snapshot, launch.tool_kinds)
        self.transport = ProcessTransport(self._malformed)
        self.conn: ClientSideConnection | None = None
        self.proc: AgentProcess | None = None
        self.native_id: str | None = None
        self.agent_caps: S.AgentCapabilities | None = None
        self.loading = False  # during session/load the agent replays history we journaled already
        self._exited: asyncio.Future[int] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._prompt: asyncio.Task[None] | None = None
        self._decisions: dict[str, asyncio.Future[S.RequestPermissionResponse]] = {}
        self._options: dict[str, list[S.PermissionOption]] = {}
        self._protocol_error: str | None = None
        self._closing = False
        self._stopper: asyncio.Future[None] | None = None
        self._last_update = 0.0

    # lifecycle

    async def start(self) -> None:
        self.proc = AgentProcess(self.launch.argv, self.launch.env, self.config.cwd, self.transport.on_line)
        try:
            await self.proc.start()
        except OSError as exc:
            raise AppError(ErrorKind.AGENT_START_FAILED, f"could not start {self.launch.name}: {exc}") from None
        self.transport.proc = self.proc
        self._exited = asyncio.get_running_loop().create_future()
        self._watch = asyncio.ensure_future(self._watch_exit(self.proc))
        self.conn = ClientSideConnection(AcpClient(self), self.transport, use_unstable_protocol=True)
        try:
            await self._handshake()
        except (AppError, RequestError, ConnectionError, TimeoutError) as exc:
            message = exc.message if isinstance(exc, AppError) else str(exc) or type(exc).__name__
            await self._stop_process()
            stderr = self.proc.stderr.summary()
            detail = f": {stderr.tail or stderr.head}" if stderr else ""
            why = f"{self.launch.name} did not start ({message}){detail}"
            raise AppError(ErrorKind.AGENT_START_FAILED, why) from None

    async def _call(self, coro: Any, timeout: float = START_TIMEOUT) -> Any:
        """Await one ACP request, unless the agent dies or stays silent first."""
        assert self._exited is not None
        task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait({task, self._exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        task.cancel()
        if self._exited in done:
            raise ConnectionError(self._protocol_error or f"{self.launch.name} exited (code {self._exited.result()})")
        raise TimeoutError(f"no answer within {timeout:.0f} s")

    async def _handshake(self) -> None:
        assert self.conn is not None
        caps = S.ClientCapabilities(
            fs=S.FileSystemCapabilities(read_text_file=self.launch.client_fs, write_text_file=self.launch.client_fs),
            terminal=self.launch.client_terminal,
        )
        info = S.Implementation(name="sandbox-agent", title="Sandbox Agent", version=__version__)
        init: S.InitializeResponse = await self._call(
            self.conn.initialize(protocol_version=PROTOCOL_VERSION, client_capabilities=caps, client_info=info)
        )
        self.agent_caps = init.agent_capabilities or S.AgentCapabilities()
        if self.launch.auth_method:
            await self._call(self.conn.authenticate(method_id=self.launch.auth_method))
        servers = mcp_servers(self.config.mcp_servers)
        resume = self.config.resume_native_id
        if resume and await self._resume(resume, servers):
            self.native_id = resume
        else:
            created: S.NewSessionResponse = await self._call(
                self.conn.new_session(cwd=self.config.cwd, mcp_servers=servers)
            )
            self.native_id = created.session_id
        self.sink.set_native_session_id(self.native_id)
        if self.launch.mode:
            with contextlib.suppress(RequestError):
                await self._call(self.conn.set_session_mode(session_id=self.native_id, mode_id=self.launch.mode))

    async def _resume(self, native_id: str, servers: list[Any]) -> bool:
        assert self.conn is not None and self.agent_caps is not None
        caps = self.agent_caps
        try:
            if caps.load_session:
                self.loading = True
                await self._call(self.conn.load_session(cwd=self.config.cwd, session_id=native_id, mcp_servers=servers))
                await self._quiet()
                return True
            if caps.session_capabilities is not None and caps.session_capabilities.resume is not None:
                cwd = self.config.cwd
                await self._call(self.conn.resume_session(cwd=cwd, session_id=native_id, mcp_servers=servers))
                return True
        except RequestError as exc:
            self._resume_failed(native_id, str(exc))
            return False
        finally:
            self.loading = False
        self._resume_failed(native_id, "the agent supports neither session/load nor session/resume")
        return False

    async def _quiet(self, gap: float = 0.3, limit: float = 3.0) -> None:
        """Let a history replay that trails the session/load answer finish before the first prompt."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        await asyncio.sleep(gap)
        # a timestamp the update callback bumps, polled at `gap`: cheaper than an Event set per update
        while loop.time() < deadline and loop.time() - self._last_update < gap:  # noqa: ASYNC110
            await asyncio.sleep(gap)

    def _resume_failed(self, native_id: str, why: str) -> None:
        self.sink.emit(
            "error",
            ErrorData(
                message=f"{self.launch.name} could not continue session {native_id} ({why}); "
                "continuing in a new session without the earlier history",
                code="resume_failed",
            ),
        )

    async def _watch_exit(self, proc: AgentProcess) -> None:
        code = await proc.wait()
        self.transport.eof()
        assert self._exited is not None
        if not self._exited.done():
            self._exited.set_result(code)
        self._release_decisions("the agent exited")
        if self._prompt is not None and not self._prompt.done():
            self._prompt.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prompt
            why = self._protocol_error or f"{self.launch.name} exited (code {code}) during the turn"
            self._end_turn(None, why)
        if self.native_id is None:
            return  # start() reports a failed start
        clean = self._closing and self._protocol_error is None
        report_exit(self.sink, self.translator.items, proc.stderr, code, clean, self.launch.name)

    def _malformed(self, reason: str, line: bytes) -> None:
        """The agent broke the protocol: nothing it says can be trusted any more, so stop it."""
        if self._protocol_error is not None:
            return
        self._protocol_error = f"{self.launch.name} broke the ACP protocol ({reason}): {line[:120]!r}"
        log.warning("%s: %s", self.config.session_id, self._protocol_error)
        if self.native_id is not None and (self._prompt is None or self._prompt.done()):
            self.sink.emit("error", ErrorData(message=self._protocol_error, code="acp_protocol_error"))
        self._stopper = asyncio.ensure_future(self._stop_process())

    async def _stop_process(self) -> None:
        if self.proc is not None:
            await self.proc.stop(grace=3.0)

    # the agent's messages

    def on_update(self, session_id: str, update: Any) -> None:
        self._last_update = asyncio.get_running_loop().time()
        # Outside a turn nothing is ours to report: session/load replays history we journaled already (Gemini CLI
        # streams it after answering the load), and UI-only updates are dropped by the translator anyway.
        if self.loading or session_id != self.native_id or self.translator.turn_id is None:
            return
        raw = update.model_dump(mode="json", by_alias=True) if self.config.include_raw else None
        for e in self.translator.update(update):
            self.sink.emit(e.type, e.data, synthetic=e.synthetic, raw=raw)

    async def ask_permission(
        self, tool_call: S.ToolCallUpdate, options: list[S.PermissionOption]
    ) -> S.RequestPermissionResponse:
        permission_id = new_id("perm_")
        fut: asyncio.Future[S.RequestPermissionResponse] = asyncio.get_running_loop().create_future()
        self._decisions[permission_id] = fut
        self._options[permission_id] = options
        known = self.translator.tools.get(tool_call.tool_call_id)  # the tool_call update often came first
        data = PermissionData(
            permission_id=permission_id,
            action=tool_call.title or (known.title if known else None) or tool_call.kind or "tool",
            status="requested",
            metadata={
                "tool_call_id": tool_call.tool_call_id,
                "kind": tool_call.kind or (known.kind if known else None),
                "input": known.raw_input if tool_call.raw_input is None and known else tool_call.raw_input,
                "options": [{"id": o.option_id, "name": o.name, "kind": o.kind} for o in options],
            },
        )
        self.sink.emit("permission.requested", data)
        try:
            return await fut
        finally:
            self._decisions.pop(permission_id, None)
            self._options.pop(permission_id, None)

    def _release_decisions(self, why: str) -> None:
        for fut in self._decisions.values():
            if not fut.done():
                fut.set_result(S.RequestPermissionResponse(outcome=S.DeniedOutcome(outcome="cancelled")))

    # the daemon's calls

    async def send(self, turn_id: str, content: list[InputPart]) -> None:
        if self.conn is None or self.native_id is None or self.proc is None or not self.proc.running:
            raise AppError(ErrorKind.AGENT_ERROR, f"{self.launch.name} is not running")
        prompt_caps = self.agent_caps.prompt_capabilities if self.agent_caps else None
        images = bool(prompt_caps and prompt_caps.image)
        blocks = prompt_blocks(content, images)
        self.translator.turn_id = turn_id
        self._prompt = asyncio.ensure_future(self._run_prompt(blocks))

    async def _run_prompt(self, blocks: list[Any]) -> None:
        assert self.conn is not None and self.native_id is not None
        try:
            response = await self.conn.prompt(session_id=self.native_id, prompt=blocks)
        except RequestError as exc:
            self._end_turn(None, f"{self.launch.name}: {exc}")
            return
        except ConnectionError:
            return  # the agent went away: _watch_exit ends the turn
        self._end_turn(response, None)

    def _end_turn(self, response: S.PromptResponse | None, error: str | None) -> None:
        if self.translator.turn_id is None:
            return
        for e in self.translator.turn_ended(response, error):
            self.sink.emit(e.type, e.data, synthetic=e.synthetic)

    async def interrupt(self) -> None:
        prompt = self._prompt
        if self.conn is None or self.native_id is None or prompt is None or prompt.done():
            return
        self._release_decisions("the turn was interrupted")  # ACP: pending permission requests answer cancelled
        with contextlib.suppress(ConnectionError):
            await self.conn.cancel(session_id=self.native_id)
        done, _ = await asyncio.wait({prompt}, timeout=CANCEL_GRACE)
        if not done:
            # the agent ignored session/cancel: end the turn ourselves; a late answer finds no turn to end
            prompt.cancel()
            self._end_turn(S.PromptResponse(stop_reason="cancelled"), None)

    async def reply_permission(self, permission_id: str, reply: PermissionReply, message: str | None) -> None:
        fut = self._decisions.get(permission_id)
        if fut is None or fut.done():
            why = f"{self.launch.name} is no longer waiting on {permission_id}"
            raise AppError(ErrorKind.PERMISSION_NOT_FOUND, why)
        options = self._options.get(permission_id, [])
        chosen = next((o for kind in REPLY_KINDS[reply] for o in options if o.kind == kind), None)
        if chosen is None:
            outcome: Any = S.DeniedOutcome(outcome="cancelled")
        else:
            outcome = S.AllowedOutcome(outcome="selected", option_id=chosen.option_id)
        fut.set_result(S.RequestPermissionResponse(outcome=outcome))

    async def reply_question(self, question_id: str, answers: list[list[str]] | None) -> None:
        raise AppError(ErrorKind.QUESTION_NOT_FOUND, f"{self.launch.name} sessions do not ask questions over ACP")

    async def terminate(self) -> None:
        self._closing = True
        self._release_decisions("the session was terminated")
        await self.terminals.close()
        if self.conn is not None and self.native_id is not None and self._prompt is not None:
            with contextlib.suppress(Exception):
                await self.conn.cancel(session_id=self.native_id)
        await self._stop_process()
        if self._watch is not None:
            await asyncio.gather(self._watch, return_exceptions=True)
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()
