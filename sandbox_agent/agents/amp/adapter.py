"""Amp sessions: one `amp -x --stream-json --stream-json-input` process per session, `threads continue` to
resume, and runtime approvals through a `delegate` permission rule that calls back into the daemon."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ...rpc.errors import AppError
from ...rpc.framing import Line
from ...schema.agents import AgentCapabilities
from ...schema.content import FilePart, ImagePart, InputPart, TextPart
from ...schema.control import AgentControl, ConfigureHow
from ...schema.errors import ErrorKind
from ...schema.events import PermissionData
from ...schema.methods import PermissionMode, PermissionReply
from ...sessions.clock import new_id
from ..base import AgentSession, EventSink, SessionConfig
from ..launch_env import amp_launch
from ..lines import decode_line, report_exit
from ..process import AgentProcess
from .translator import AmpTranslator

if TYPE_CHECKING:
    from .driver import AmpDriver

log = logging.getLogger(__name__)

DELEGATE = Path(__file__).with_name("delegate.py")
MUTATING = ["Bash", "shell_command", "create_file", "edit_file", "undo_edit"]
EDITS = ["create_file", "edit_file", "undo_edit"]
INTERRUPT_GRACE = 3.0

CAPABILITIES = AgentCapabilities(
    text="yes",
    streaming_deltas="partial",  # Amp prints whole messages: one synthetic delta per item
    tool_calls="yes",
    tool_results="yes",
    questions="no",
    permissions="yes",  # through the delegate hook
    images="no",  # the pinned build's stream-JSON input takes text blocks only
    file_attachments="partial",  # passed by path in the text
    lifecycle="yes",
    errors="yes",
    reasoning="partial",  # thinking blocks are translated when the build prints them
    command_execution="yes",
    file_changes="yes",
    mcp_tools="no",
    interrupt="yes",
    resume="yes",
)


# The pinned build reads its permission rules at start and has no mid-turn input the daemon could use as a steer
# (its `steer` input flag is in later builds): steer falls back to interrupt-then-send, a new mode restarts the
# process on the same thread (threads continue), fork replays. It has no model or agent mode to choose.
CONTROL = AgentControl(
    steer="fallback",
    fork="replay",
    configure_model="no",
    configure_permission_mode="restart",
    configure_agent_mode="no",
)


def permission_rules(mode: str, delegate: str) -> list[dict[str, Any]]:
    """Rules so that no tool call can end in Amp's `ask` (which hangs in stream-JSON mode): delegate what needs
    approval, decide the rest here."""

    def to(tools: list[str]) -> list[dict[str, Any]]:
        return [{"tool": t, "action": "delegate", "to": delegate} for t in tools]

    if mode == "plan":
        rules = [{"tool": t, "action": "reject", "message": "Plan mode: no file edits."} for t in EDITS]
        rules += to(["Bash", "shell_command"])
    elif mode == "accept_edits":
        rules = [{"tool": t, "action": "allow"} for t in EDITS] + to(["Bash", "shell_command"])
    else:
        rules = to(MUTATING)
    return [*rules, {"tool": "*", "action": "allow"}]


class AmpSession(AgentSession):
    def __init__(self, config: SessionConfig, sink: EventSink, driver: AmpDriver, command: list[str]) -> None:
        super().__init__(config, sink)
        self.driver = driver
        self.command = command
        self.translator = AmpTranslator(new_id)
        self.thread_id: str | None = config.resume_native_id
        self.proc: AgentProcess | None = None
        self._secret = ""
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False  # interrupt or terminate in progress: an exit is expected
        self._closing = False
        self._decisions: dict[str, asyncio.Future[tuple[bool, str | None]]] = {}
        self._always: set[str] = set()
        self._tool_of: dict[str, str] = {}  # permission id -> tool name, for "always"

    def _state(self) -> Path:
        assert self.config.state_dir is not None
        path = self.config.state_dir / "amp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _delegate_command(self) -> str:
        script = self._state() / "delegate"
        script.write_text(f"#!/bin/sh\nexec '{sys.executable}' -I '{DELEGATE}'\n")
        script.chmod(0o755)
        return str(script)

    def argv(self) -> list[str]:
        settings = self._state() / "settings.json"
        argv = list(self.command)
        if self.thread_id:
            argv += ["threads", "continue", self.thread_id]
        argv += ["-x", "--stream-json", "--stream-json-input", "--settings-file", str(settings)]
        if self.config.permission_mode == "bypass":
            argv.append("--dangerously-allow-all")
        return argv

    async def start(self) -> None:
        await self.driver.broker.start()
        self._secret = self.driver.broker.register(self)
        await self._spawn()

    async def _spawn(self) -> None:
        rules = permission_rules(self.config.permission_mode, self._delegate_command())
        launch = amp_launch(self.config.env, self._state(), rules)
        env = {
            **launch.env,
            "SANDBOX_AGENT_DELEGATE_SOCKET": str(self.driver.broker.path),
            "SANDBOX_AGENT_DELEGATE_SECRET": self._secret,
        }
        # amp_launch wrote settings with `amp.permissions`; keep them beside the session
        settings = self._state() / "settings.json"
        settings.write_text(json.dumps({"amp.permissions": rules, "amp.updates.autoUpdate.enabled": False}))
        self.proc = AgentProcess(self.argv(), env, self.config.cwd, self._on_line)
        try:
            await self.proc.start()
        except OSError as exc:
            raise AppError(ErrorKind.AGENT_START_FAILED, f"could not start amp: {exc}") from None
        self._stopping = False
        self.translator.interrupting = False
        self._watch = asyncio.ensure_future(self._watch_exit(self.proc))
        if self.thread_id:
            self.sink.set_native_session_id(self.thread_id)

    def _on_line(self, line: Line) -> None:
        msg = decode_line(line, self.sink)
        if msg is None:
            return
        for e in self.translator.translate(msg):
            self.sink.emit(e.type, e.data, synthetic=e.synthetic, raw=msg)
        if self.translator.thread_id and self.translator.thread_id != self.thread_id:
            self.thread_id = self.translator.thread_id
            self.sink.set_native_session_id(self.thread_id)

    async def _watch_exit(self, proc: AgentProcess) -> None:
        code = await proc.wait()
        if proc is not self.proc:
            return
        self.proc = None
        if self._stopping and not self._closing:
            # interrupted on purpose: the thread goes on with the next message (threads continue)
            for e in self.translator.interrupted():
                self.sink.emit(e.type, e.data, synthetic=True)
            return
        report_exit(self.sink, self.translator.items, proc.stderr, code, code == 0 and self._closing, "amp")

    async def send(self, turn_id: str, content: list[InputPart]) -> None:
        if self.proc is None or not self.proc.running:
            await self._spawn()  # after an interrupt: continue the thread in a new process
        assert self.proc is not None
        texts = []
        for part in content:
            if isinstance(part, TextPart):
                texts.append(part.text)
            elif isinstance(part, FilePart | ImagePart):
                texts.append(f"<attached file: {part.path or getattr(part, 'name', None) or 'inline data'}>")
        self.translator.turn_id = turn_id
        line = {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": "\n".join(texts)}]}}
        try:
            await self.proc.write_line(orjson.dumps(line))
        except (ConnectionError, RuntimeError) as exc:
            raise AppError(ErrorKind.AGENT_ERROR, f"amp is not reading its input: {exc}") from None

    async def interrupt(self) -> None:
        proc = self.proc
        if proc is None or not proc.running:
            return
        self._stopping = True
        self.translator.interrupting = True
        for fut in self._decisions.values():
            if not fut.done():
                fut.set_result((False, "Cancelled: the turn was interrupted."))
        proc.signal(signal.SIGINT)  # Amp's cancel
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), INTERRUPT_GRACE)
        except TimeoutError:
            await proc.stop(grace=2.0)
        if self._watch is not None:
            await asyncio.gather(self._watch, return_exceptions=True)

    async def configure(
        self, model: str | None, agent_mode: str | None, permission_mode: PermissionMode | None
    ) -> ConfigureHow:
        if permission_mode is not None and permission_mode != self.config.permission_mode:
            self.config.permission_mode = permission_mode
            proc = self.proc
            if proc is not None and proc.running:
                self._stopping = True  # an expected exit: the next message continues the thread with the new rules
                await proc.stop(grace=3.0)
                if self._watch is not None:
                    await asyncio.gather(self._watch, return_exceptions=True)
        return "restart"

    # approvals (called by the broker)

    async def ask(self, request: dict[str, Any], gone: asyncio.Future[None]) -> tuple[bool, str | None]:
        tool = str(request.get("tool", ""))
        if tool in self._always:
            return True, None
        try:
            args: Any = json.loads(request.get("input") or "{}")
        except ValueError:
            args = request.get("input")
        permission_id = new_id("perm_")
        fut: asyncio.Future[tuple[bool, str | None]] = asyncio.get_running_loop().create_future()
        self._decisions[permission_id] = fut
        self._tool_of[permission_id] = tool
        data = PermissionData(
            permission_id=permission_id,
            action=tool,
            status="requested",
            metadata={"input": args, "tool_use_id": request.get("tool_use_id")},
        )
        self.sink.emit("permission.requested", data)
        try:
            await asyncio.wait({fut, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._decisions.pop(permission_id, None)
            self._tool_of.pop(permission_id, None)
        if fut.done():
            return fut.result()
        # the delegate went away (Amp stopped waiting): nothing to decide any more
        self.sink.emit(
            "permission.resolved", data.model_copy(update={"status": "reject", "message": "amp stopped waiting"})
        )
        return False, None

    async def reply_permission(self, permission_id: str, reply: PermissionReply, message: str | None) -> None:
        fut = self._decisions.get(permission_id)
        if fut is None or fut.done():
            raise AppError(ErrorKind.PERMISSION_NOT_FOUND, f"amp is no longer waiting on {permission_id}")
        if reply == "always":
            self._always.add(self._tool_of.get(permission_id, ""))
        fut.set_result((reply != "reject", message if reply == "reject" else None))

    async def reply_question(self, question_id: str, answers: list[list[str]] | None) -> None:
        raise AppError(ErrorKind.QUESTION_NOT_FOUND, "amp sessions do not ask questions")

    async def terminate(self) -> None:
        self._closing = True
        self._stopping = True
        self.driver.broker.unregister(self._secret)
        if self.proc is not None:
            await self.proc.stop(grace=3.0)
        if self._watch is not None:
            await asyncio.gather(self._watch, return_exceptions=True)
