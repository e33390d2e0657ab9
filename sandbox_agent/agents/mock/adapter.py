"""The mock agent's adapter: one `mock_agent.py` child process per session."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson

from ... import __version__
from ...rpc.errors import AppError
from ...rpc.framing import Line
from ...schema.agents import AgentCapabilities, AgentInfo
from ...schema.content import FilePart, ImagePart, InputPart, TextPart
from ...schema.control import AgentControl, ConfigureHow
from ...schema.errors import ErrorKind
from ...schema.methods import PermissionMode, PermissionReply
from ...sessions.clock import new_id
from ..base import AgentDriver, AgentSession, EventSink, ForkPoint, ProgressCallback, SessionConfig
from ..env import child_env
from ..lines import decode_line, report_exit
from ..process import AgentProcess
from .translator import MockTranslator

SCRIPT = Path(__file__).with_name("mock_agent.py")
READY_TIMEOUT = 15.0

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
    mcp_tools="no",
    interrupt="yes",
    resume="yes",
)


class MockSession(AgentSession):
    def __init__(self, config: SessionConfig, sink: EventSink) -> None:
        super().__init__(config, sink)
        self.translator = MockTranslator(new_id)
        extra = {
            "MOCK_RESUME": config.resume_native_id or "",
            "MOCK_MODEL": config.model or "",
            "MOCK_AGENT_MODE": config.agent_mode or "",
            "MOCK_PERMISSION_MODE": config.permission_mode,
            # the mock's conversations, shared by the daemon's sessions so that a fork finds its source
            "MOCK_STATE": str(config.state_dir.parent / ".mock") if config.state_dir else "",
        }
        if config.fork is not None:
            extra.update(MOCK_FORK_FROM=config.fork.source_native_id, MOCK_FORK_KEEP=str(config.fork.user_messages))
        self.proc = AgentProcess(
            [sys.executable, "-I", "-S", str(SCRIPT)], child_env(config.env, extra), config.cwd, self._on_line
        )
        self._ready: asyncio.Future[None] | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._ready = asyncio.get_running_loop().create_future()
        try:
            await self.proc.start()
        except OSError as exc:
            raise AppError(ErrorKind.AGENT_START_FAILED, f"could not start the mock agent: {exc}") from None
        self._watch = asyncio.ensure_future(self._watch_exit())
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), READY_TIMEOUT)
        except TimeoutError:
            await self.proc.stop()
            raise AppError(ErrorKind.AGENT_START_FAILED, "the mock agent did not become ready") from None

    def _on_line(self, line: Line) -> None:
        sink = self.sink
        msg = decode_line(line, sink)
        if msg is None:
            return
        if msg.get("t") == "ready":
            sink.set_native_session_id(str(msg.get("session")))
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
            return
        for e in self.translator.translate(msg):
            sink.emit(e.type, e.data, synthetic=e.synthetic, raw=msg)

    async def _watch_exit(self) -> None:
        code = await self.proc.wait()
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(AppError(ErrorKind.AGENT_START_FAILED, f"the mock agent exited with {code}"))
        report_exit(self.sink, self.translator.items, self.proc.stderr, code, code == 0, "the agent process")

    async def _write(self, msg: dict[str, Any]) -> None:
        try:
            await self.proc.write_line(orjson.dumps(msg))
        except (ConnectionError, RuntimeError) as exc:
            raise AppError(ErrorKind.AGENT_ERROR, f"the mock agent is not reading: {exc}") from None

    async def send(self, turn_id: str, content: list[InputPart]) -> None:
        text = " ".join(p.text for p in content if isinstance(p, TextPart))
        images = sum(isinstance(p, ImagePart) for p in content)
        files = sum(isinstance(p, FilePart) for p in content)
        await self._write({"t": "prompt", "turn": turn_id, "text": text, "images": images, "files": files})

    async def interrupt(self) -> None:
        await self._write({"t": "interrupt"})

    async def steer(self, content: list[InputPart]) -> bool:
        if self.config.env.get("MOCK_STEER") == "off":  # behave like an agent without mid-turn input (tests)
            return False
        await self._write({"t": "steer", "text": " ".join(p.text for p in content if isinstance(p, TextPart))})
        return True

    async def configure(
        self, model: str | None, agent_mode: str | None, permission_mode: PermissionMode | None
    ) -> ConfigureHow:
        settings = {"model": model, "agent_mode": agent_mode, "permission_mode": permission_mode}
        await self._write({"t": "configure", **settings})
        return "live"

    async def reply_permission(self, permission_id: str, reply: PermissionReply, message: str | None) -> None:
        await self._write({"t": "permission_reply", "id": permission_id, "reply": reply, "message": message})

    async def reply_question(self, question_id: str, answers: list[list[str]] | None) -> None:
        await self._write({"t": "question_reply", "id": question_id, "answers": answers})

    async def terminate(self) -> None:
        await self.proc.stop()
        if self._watch is not None:
            await asyncio.gather(self._watch, return_exceptions=True)


class MockDriver(AgentDriver):
    id = "mock"
    name = "Mock agent"
    capabilities = CAPABILITIES
    agent_modes = ["chat", "plan"]
    control = AgentControl(
        steer="native",
        fork="native",
        configure_model="live",
        configure_permission_mode="live",
        configure_agent_mode="live",
    )

    def info(self) -> AgentInfo:
        return AgentInfo(
            id=self.id,
            name=self.name,
            installed=True,
            version=__version__,
            path=str(SCRIPT),
            capabilities=self.capabilities,
            models=["mock"],
            modes=self.agent_modes,
            control=self.control,
        )

    async def install(self, version: str | None, reinstall: bool, progress: ProgressCallback) -> AgentInfo:
        progress("installed", None, None)  # built in: nothing to fetch
        return self.info()

    def open_session(self, config: SessionConfig, sink: EventSink) -> AgentSession:
        return MockSession(config, sink)

    def can_fork(self, point: ForkPoint) -> bool:
        return True  # the mock keeps its conversation in a file it can copy up to any user message
