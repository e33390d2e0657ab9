"""Claude Code: one long-lived `claude -p` stream-json process per session, approvals over its stdio control
protocol, interrupt by control request, resume with `--resume <session id>`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import mimetypes
import shutil
import uuid
from pathlib import Path
from typing import Any

import orjson

from ...rpc.errors import AppError
from ...rpc.framing import Line
from ...schema.agents import AgentCapabilities
from ...schema.content import FilePart, ImagePart, InputPart, TextPart
from ...schema.control import AgentControl, ConfigureHow
from ...schema.errors import ErrorKind
from ...schema.events import ErrorData
from ...schema.methods import PermissionMode, PermissionReply
from ...sessions.clock import new_id
from ..base import AgentSession, EventSink, SessionConfig
from ..launch_env import claude_launch
from ..lines import decode_line, report_exit
from ..process import AgentProcess
from .translator import ClaudeTranslator

log = logging.getLogger(__name__)

PERMISSION_MODES = {"default": "default", "plan": "plan", "accept_edits": "acceptEdits", "bypass": "bypassPermissions"}
START_TIMEOUT = 60.0
CONTROL_TIMEOUT = 15.0
STEER_GRACE = 5.0  # Claude starts on a waiting steered message within ~10 ms of its result (measured)

CAPABILITIES = AgentCapabilities(
    text="yes",
    streaming_deltas="yes",
    tool_calls="yes",
    tool_results="yes",
    questions="yes",
    permissions="yes",
    images="yes",
    file_attachments="partial",  # PDFs and text inline; other files are passed by path for Claude to Read
    lifecycle="yes",
    errors="yes",
    reasoning="yes",
    command_execution="yes",
    file_changes="yes",
    mcp_tools="yes",
    interrupt="yes",
    resume="yes",
)


# Measured on 2.1.197 (docs/decisions.md): a user line written mid-turn goes into the turn's next model request
# ("The user sent a new message while you were working"); with no further request it runs as its own turn right
# after. Either way the daemon keeps one turn open until Claude has answered it.
CONTROL = AgentControl(
    steer="native",
    fork="native",  # --resume <source> --fork-session, at the source's latest turn boundary (earlier: replay)
    configure_model="live",  # control request set_model
    configure_permission_mode="live",  # control request set_permission_mode
    configure_agent_mode="no",
)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text")


def _answered_prompts(path: Path) -> int:
    """How many user prompts in a Claude transcript file have an assistant entry after them."""
    prompts = answered = 0
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        return 0
    for raw in lines:
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        content = (entry.get("message") or {}).get("content")
        if entry.get("type") == "user" and not entry.get("isMeta") and _text_of(content):
            prompts += 1
        elif entry.get("type") == "assistant":
            answered = prompts
    return answered


def content_blocks(parts: list[InputPart]) -> list[dict[str, Any]]:
    """User message parts as Claude content blocks."""
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            data = part.data or base64.b64encode(Path(part.path or "").read_bytes()).decode()
            blocks.append({"type": "image", "source": {"type": "base64", "media_type": part.mime, "data": data}})
        elif isinstance(part, FilePart):
            mime = part.mime or (mimetypes.guess_type(part.path or part.name or "")[0] or "")
            name = part.name or part.path or "attachment"
            if part.data is not None and mime == "application/pdf":
                source = {"type": "base64", "media_type": mime, "data": part.data}
                blocks.append({"type": "document", "source": source, "title": name})
            elif part.data is not None and (mime.startswith("text/") or not mime):
                text = base64.b64decode(part.data).decode("utf-8", "replace")
                blocks.append({"type": "text", "text": f"<attached file {name}>\n{text}\n</attached file>"})
            else:
                blocks.append({"type": "text", "text": f"<attached file: {part.path or name}>"})
    return blocks


class ClaudeSession(AgentSession):
    def __init__(self, config: SessionConfig, sink: EventSink, command: list[str]) -> None:
        super().__init__(config, sink)
        self.command = command
        self.translator = ClaudeTranslator(new_id)
        self.native_id = config.resume_native_id or str(uuid.uuid4())
        self.proc: AgentProcess | None = None
        self._controls: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._requests: dict[str, dict[str, Any]] = {}  # pending can_use_tool requests by id
        self._watch: asyncio.Task[None] | None = None
        self._exited: asyncio.Future[int] | None = None
        self._closing = False
        self._ready = False  # until initialize answered, a dying process is a failed start, not an ended session
        self._tasks: set[asyncio.Task[None]] = set()
        self._steers: list[str] = []  # steered messages Claude has not taken yet (their --replay-user-messages echo)
        self._lines = 0  # stdout lines so far, to tell whether Claude went on after a held turn end
        self._lines_at_hold = 0

    def argv(self) -> list[str]:
        c = self.config
        argv = [
            *self.command,
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--permission-prompt-tool",
            "stdio",
            "--replay-user-messages",  # tells when a steered message was taken
            "--allow-dangerously-skip-permissions",  # so that configure may switch to bypass later
            "--permission-mode",
            PERMISSION_MODES[c.permission_mode],
        ]
        if c.model:
            argv += ["--model", c.model]
        if c.fork is not None and not c.resume_native_id and c.fork.turns:
            argv += ["--resume", c.fork.source_native_id, "--fork-session", "--session-id", self.native_id]
        else:
            argv += ["--resume", self.native_id] if c.resume_native_id else ["--session-id", self.native_id]
        if c.mcp_servers:
            argv += ["--mcp-config", str(self._write_mcp_config())]
        return argv

    def _write_mcp_config(self) -> Path:
        servers: dict[str, Any] = {}
        for s in self.config.mcp_servers:
            if s.command:
                servers[s.name] = {"type": "stdio", "command": s.command, "args": s.args, "env": s.env}
            else:
                servers[s.name] = {"type": "http", "url": s.url, "headers": s.headers}
        path = self._state() / "mcp.json"
        path.write_text(json.dumps({"mcpServers": servers}))
        return path

    def _state(self) -> Path:
        assert self.config.state_dir is not None
        path = self.config.state_dir / "claude"
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def start(self) -> None:
        try:
            await self._start()
        except AppError as exc:
            if not (self.config.resume_native_id and "No conversation found" in exc.message):
                raise
            # Claude saves its transcript just after a turn; a crash before that leaves nothing to resume.
            lost = self.native_id
            self.native_id = str(uuid.uuid4())
            self.config.resume_native_id = None
            self.sink.emit(
                "error",
                ErrorData(
                    message=f"claude could not resume conversation {lost} (it was never saved); "
                    "continuing in a new conversation without the earlier history",
                    code="resume_failed",
                ),
            )
            await self._start()

    async def _copy_fork_source(self) -> None:
        """Claude finds conversations under its config dir: give the fork a copy of the source's transcript, once
        Claude has written the fork point's last answer to it (it writes just after a turn ends)."""
        fork = self.config.fork
        if fork is None or self.config.resume_native_id or self.config.state_dir is None:
            return
        source = self.config.state_dir.parent / fork.source_session_id / "claude" / "claude" / "projects"
        target = self._state() / "claude" / "projects"
        for path in source.glob(f"*/{fork.source_native_id}.jsonl"):
            for _ in range(100):
                if _answered_prompts(path) >= fork.user_messages:
                    break
                await asyncio.sleep(0.05)
            dest = target / path.parent.name / path.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)

    async def _start(self) -> None:
        await self._copy_fork_source()
        launch = claude_launch(self.config.env, self._state())
        self.proc = AgentProcess(self.argv(), launch.env, self.config.cwd, self._on_line)
        try:
            await self.proc.start()
        except OSError as exc:
            raise AppError(ErrorKind.AGENT_START_FAILED, f"could not start claude: {exc}") from None
        self._exited = asyncio.get_running_loop().create_future()
        self._watch = asyncio.ensure_future(self._watch_exit())
        self.sink.set_native_session_id(self.native_id)
        try:
            await self._control({"subtype": "initialize", "hooks": None}, START_TIMEOUT)
            self._ready = True
        except AppError as exc:
            await self.proc.stop()
            stderr = self.proc.stderr.summary()
            detail = f": {stderr.tail or stderr.head}" if stderr else ""
            raise AppError(ErrorKind.AGENT_START_FAILED, f"claude did not start ({exc.message}){detail}") from None

    async def _control(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        rid = f"sa_{uuid.uuid4().hex[:12]}"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._controls[rid] = fut
        try:
            await self._write({"type": "control_request", "request_id": rid, "request": request})
            assert self._exited is not None
            done, _ = await asyncio.wait({fut, self._exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if fut in done:
                return fut.result()
            if self._exited in done:
                raise AppError(ErrorKind.AGENT_ERROR, f"claude exited (code {self._exited.result()})")
            raise AppError(ErrorKind.TIMEOUT, f"claude did not answer {request['subtype']} within {timeout:.0f} s")
        finally:
            self._controls.pop(rid, None)

    async def _write(self, msg: dict[str, Any]) -> None:
        if self.proc is None:
            raise AppError(ErrorKind.AGENT_ERROR, "claude is not running")
        try:
            await self.proc.write_line(orjson.dumps(msg))
        except (ConnectionError, RuntimeError) as exc:
            raise AppError(ErrorKind.AGENT_ERROR, f"claude is not reading its input: {exc}") from None

    def _on_line(self, line: Line) -> None:
        self._lines += 1
        sink = self.sink
        msg = decode_line(line, sink)
        if msg is None:
            return
        kind = msg.get("type")
        if kind == "control_response":
            response = msg.get("response") or {}
            fut = self._controls.get(response.get("request_id", ""))
            if fut is not None and not fut.done():
                if response.get("subtype") == "error":
                    fut.set_exception(AppError(ErrorKind.AGENT_ERROR, f"claude: {response.get('error')}"))
                else:
                    fut.set_result(response.get("response") or {})
            return
        if kind == "control_request":
            request = msg.get("request") or {}
            if request.get("subtype") == "can_use_tool":
                self._requests[msg["request_id"]] = request
            else:  # nothing else was registered; answer so Claude never waits on us
                task = asyncio.ensure_future(self._respond(msg.get("request_id", ""), {}))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        elif kind == "control_cancel_request":
            self._requests.pop(msg.get("request_id", ""), None)
        elif kind == "system" and msg.get("subtype") == "init" and msg.get("session_id"):
            self.native_id = msg["session_id"]
            sink.set_native_session_id(self.native_id)
        elif kind == "user" and msg.get("isReplay") and self._steers:
            text = _text_of((msg.get("message") or {}).get("content"))
            if text in self._steers:
                self._steers.remove(text)
        emissions = self.translator.translate(msg)
        if kind == "result" and self._steers and not self.translator.interrupting:
            # a steered message is still waiting: Claude runs it right after this result, in the same daemon turn
            turn_id = next((e.data.turn_id for e in emissions if e.type == "turn.ended"), None)  # type: ignore[attr-defined]
            if turn_id is not None:
                held = [e for e in emissions if e.type == "turn.ended"]
                emissions = [e for e in emissions if e.type != "turn.ended"]
                self.translator.turn_id = turn_id
                self._lines_at_hold = self._lines
                task = asyncio.ensure_future(self._release_if_quiet(held))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        for e in emissions:
            sink.emit(e.type, e.data, synthetic=e.synthetic, raw=msg)

    async def _release_if_quiet(self, held: list[Any]) -> None:
        """A held turn end goes out after all if Claude does not start on the steered message (never seen)."""
        await asyncio.sleep(STEER_GRACE)
        if self._lines == self._lines_at_hold and self.translator.turn_id is not None:
            log.warning("claude did not take a steered message; ending the turn")
            self._steers.clear()
            self.translator.turn_id = None
            for e in held:
                self.sink.emit(e.type, e.data, synthetic=True)

    async def _respond(self, request_id: str, response: dict[str, Any]) -> None:
        with contextlib.suppress(AppError):
            await self._write(
                {
                    "type": "control_response",
                    "response": {"subtype": "success", "request_id": request_id, "response": response},
                }
            )

    async def _watch_exit(self) -> None:
        assert self.proc is not None and self._exited is not None
        proc = self.proc
        code = await proc.wait()
        self._exited.set_result(code)
        if not self._ready:
            return  # start() reports it
        report_exit(self.sink, self.translator.items, proc.stderr, code, code == 0 and self._closing, "claude")

    async def send(self, turn_id: str, content: list[InputPart]) -> None:
        self.translator.turn_id = turn_id
        message = {"role": "user", "content": content_blocks(content)}
        await self._write(
            {"type": "user", "message": message, "parent_tool_use_id": None, "session_id": self.native_id}
        )

    async def interrupt(self) -> None:
        self.translator.interrupting = True
        self._steers.clear()
        await self._control({"subtype": "interrupt"}, CONTROL_TIMEOUT)

    async def steer(self, content: list[InputPart]) -> bool:
        if self.translator.turn_id is None:
            return False  # the turn just ended: a user line now would start a turn of Claude's own
        message = {"role": "user", "content": content_blocks(content)}
        self._steers.append(_text_of(message["content"]))
        await self._write(
            {"type": "user", "message": message, "parent_tool_use_id": None, "session_id": self.native_id}
        )
        return True

    async def configure(
        self, model: str | None, agent_mode: str | None, permission_mode: PermissionMode | None
    ) -> ConfigureHow:
        if model is not None:
            await self._control({"subtype": "set_model", "model": model}, CONTROL_TIMEOUT)
        if permission_mode is not None:
            mode = PERMISSION_MODES[permission_mode]
            await self._control({"subtype": "set_permission_mode", "mode": mode}, CONTROL_TIMEOUT)
        return "live"

    async def reply_permission(self, permission_id: str, reply: PermissionReply, message: str | None) -> None:
        request = self._pending(permission_id)
        if reply == "reject":
            response: dict[str, Any] = {"behavior": "deny", "message": message or "The user rejected this action."}
        else:
            response = {"behavior": "allow", "updatedInput": request.get("input") or {}}
            if reply == "always" and request.get("permission_suggestions"):
                response["updatedPermissions"] = request["permission_suggestions"]
        await self._respond(permission_id, response)

    async def reply_question(self, question_id: str, answers: list[list[str]] | None) -> None:
        request = self._pending(question_id)
        args = request.get("input") or {}
        if answers is None:
            await self._respond(question_id, {"behavior": "deny", "message": "The user declined to answer."})
            return
        questions = args.get("questions") or []
        mapping = {str(q.get("question", "")): ", ".join(a) for q, a in zip(questions, answers, strict=False)}
        await self._respond(question_id, {"behavior": "allow", "updatedInput": {**args, "answers": mapping}})

    def _pending(self, request_id: str) -> dict[str, Any]:
        self.translator.pending.pop(request_id, None)
        request = self._requests.pop(request_id, None)
        if request is None:
            raise AppError(ErrorKind.PERMISSION_NOT_FOUND, f"claude is no longer waiting on {request_id}")
        return request

    async def terminate(self) -> None:
        self._closing = True
        if self.proc is not None:
            await self.proc.stop(grace=5.0)
        if self._watch is not None:
            await asyncio.gather(self._watch, return_exceptions=True)
