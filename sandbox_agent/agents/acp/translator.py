"""Pure translation of an ACP agent's `session/update` notifications (and its prompt result) into universal events.

Message and thought chunks stream into one message / reasoning item each, closed when something else starts (a tool
call, a new chunk kind) or the turn ends. `tool_call` opens an item whose kind follows the ACP tool kind (execute ->
command, edit/delete/move -> file_change, everything else -> tool_call followed by a tool_result item once it ends);
`tool_call_update` merges into it and a final status completes it. A `plan` becomes a status item; `usage_update`
and the prompt result's usage become the turn's usage. Updates that only describe the agent's UI (available
commands, current mode, config options, session info) are dropped on purpose.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import orjson
from acp import schema as S

from ...schema.content import (
    CommandPart,
    FileRefPart,
    JsonPart,
    ReasoningPart,
    StatusPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from ...schema.events import AgentUnparsedData, ErrorData, TurnEndedData, Usage
from ...schema.items import ItemKind
from ..emission import Emission, IdFactory, OpenItems

FILE_KINDS = {"edit", "delete", "move"}
UI_ONLY = {"available_commands_update", "current_mode_update", "config_option_update", "session_info_update"}
STOP_REASONS = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "max_turn_requests": "max_tokens",
    "refusal": "refusal",
    "cancelled": "interrupted",
}


def tool_item_kind(kind: str | None) -> ItemKind:
    if kind == "execute":
        return "command"
    if kind in FILE_KINDS:
        return "file_change"
    return "tool_call"


def unified_diff(path: str, old: str | None, new: str) -> str:
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{path.lstrip('/')}" if old else "/dev/null",
        tofile=f"b/{path.lstrip('/')}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def block_text(block: Any) -> str:
    """The text of one ACP content block (non-text blocks by a short placeholder)."""
    if isinstance(block, S.TextContentBlock):
        return block.text
    if isinstance(block, S.ResourceContentBlock):
        return f"[resource {block.uri}]"
    if isinstance(block, S.EmbeddedResourceContentBlock):
        return getattr(block.resource, "text", None) or f"[resource {block.resource.uri}]"
    kind = getattr(block, "type", "content")
    return f"[{kind}]"


@dataclass
class ToolState:
    """What is known so far about one tool call (ACP sends it in pieces)."""

    call_id: str
    title: str = ""
    kind: str | None = None
    raw_input: Any = None
    raw_output: Any = None
    locations: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    diffs: list[tuple[str, str]] = field(default_factory=list)  # (path, unified diff)
    terminals: list[str] = field(default_factory=list)
    meta_output: list[str] = field(default_factory=list)  # terminal output an agent streams in _meta (Zed style)
    meta_exit: int | None = None

    def merge(self, update: S.ToolCallStart | S.ToolCallProgress) -> None:
        meta = update.field_meta if isinstance(update.field_meta, dict) else {}
        out = meta.get("terminal_output")
        if isinstance(out, dict) and isinstance(out.get("data"), str):
            self.meta_output.append(out["data"])
        done = meta.get("terminal_exit")
        if isinstance(done, dict) and isinstance(done.get("exit_code"), int):
            self.meta_exit = done["exit_code"]
        if update.title:
            self.title = update.title
        if update.kind:
            self.kind = update.kind
        if update.raw_input is not None:
            self.raw_input = update.raw_input
        if update.raw_output is not None:
            self.raw_output = update.raw_output
        if update.locations:
            self.locations = [loc.path for loc in update.locations]
        if update.content is not None:
            # ACP sends the whole content list each time it changes
            self.texts, self.diffs, self.terminals = [], [], []
            for c in update.content:
                if isinstance(c, S.ContentToolCallContent):
                    self.texts.append(block_text(c.content))
                elif isinstance(c, S.FileEditToolCallContent):
                    self.diffs.append((c.path, unified_diff(c.path, c.old_text, c.new_text)))
                elif isinstance(c, S.TerminalToolCallContent):
                    self.terminals.append(c.terminal_id)

    def output(self) -> str:
        if self.texts:
            return "\n".join(self.texts)
        if self.meta_output:
            return "".join(self.meta_output)
        raw = self.raw_output
        if raw is None:
            return ""
        if isinstance(raw, str):
            return raw
        if isinstance(raw, dict) and isinstance(raw.get("output"), str):
            return raw["output"]
        return orjson.dumps(raw).decode()

    def command(self) -> str:
        raw = self.raw_input
        if isinstance(raw, dict):
            cmd = raw.get("command") or raw.get("cmd")
            if isinstance(cmd, list):
                return " ".join(map(str, cmd))
            if cmd:
                return str(cmd)
        return self.title

    def exit_code(self) -> int | None:
        if self.meta_exit is not None:
            return self.meta_exit
        raw = self.raw_output
        if isinstance(raw, dict):
            for key in ("exit_code", "exitCode", "code"):
                if isinstance(raw.get(key), int):
                    return raw[key]
        return None

    def path(self) -> str:
        if self.diffs:
            return self.diffs[0][0]
        if self.locations:
            return self.locations[0]
        raw = self.raw_input
        if isinstance(raw, dict):
            for key in ("file_path", "path", "filePath", "absolute_path"):
                if raw.get(key):
                    return str(raw[key])
        return self.title


class AcpTranslator:
    """Stateful per session; `turn_id` is set by the adapter before each prompt."""

    def __init__(
        self, new_id: IdFactory, terminal_output: Any = None, tool_kinds: dict[str, str] | None = None
    ) -> None:
        self.items = OpenItems(new_id)
        # title -> ACP tool kind, for bridges that send every tool as `other` (pi-acp: bash, write, edit)
        self.tool_kinds = tool_kinds or {}
        self.turn_id: str | None = None
        self.tools: dict[str, ToolState] = {}
        self.usage: Usage | None = None
        self._stream: tuple[str, str] | None = None  # (native key, "message" | "reasoning") of the open chunk item
        self._texts: dict[str, list[str]] = {}
        self._counter = 0
        # terminal id -> (output, exit code); lets a command item carry the output of the terminal it ran in
        self.terminal_output = terminal_output

    # session/update

    def update(self, update: Any) -> list[Emission]:
        kind = getattr(update, "session_update", None)
        try:
            if isinstance(update, S.AgentMessageChunk):
                return self._chunk(update, "message")
            if isinstance(update, S.AgentThoughtChunk):
                return self._chunk(update, "reasoning")
            if isinstance(update, S.UserMessageChunk):
                return []  # our own prompt echoed (or replayed by session/load): the daemon journaled it already
            if isinstance(update, S.ToolCallStart):
                return self._tool_start(update)
            if isinstance(update, S.ToolCallProgress):
                return self._tool_update(update)
            if isinstance(update, S.AgentPlanUpdate):
                return self._plan(update)
            if isinstance(update, S.UsageUpdate):
                self._usage_update(update)
                return []
            if kind in UI_ONLY:
                return []
        except Exception as exc:  # a translator bug is reported, never raised into the connection
            return [self._unparsed(f"{type(exc).__name__}: {exc}", str(kind), update)]
        return [self._unparsed(f"unknown session/update kind {kind!r}", "session/update", update)]

    def _unparsed(self, error: str, location: str, update: Any) -> Emission:
        return Emission("agent.unparsed", AgentUnparsedData(error=error, location=location))

    def _close_stream(self, status: str = "completed") -> list[Emission]:
        if self._stream is None:
            return []
        key, kind = self._stream
        self._stream = None
        text = "".join(self._texts.pop(key, []))
        part: Any = TextPart(text=text) if kind == "message" else ReasoningPart(text=text)
        done = self.items.complete(key, [part], status)  # type: ignore[arg-type]
        return [done] if done else []

    def _chunk(self, update: S.AgentMessageChunk | S.AgentThoughtChunk, kind: str) -> list[Emission]:
        text = block_text(update.content)
        out: list[Emission] = []
        if self._stream is not None and self._stream[1] != kind:
            out += self._close_stream()
        if self._stream is None:
            self._counter += 1
            key = f"{kind}:{self.turn_id}:{self._counter}"
            self._stream = (key, kind)
            self._texts[key] = []
            out.append(self.items.start(key, "message" if kind == "message" else "reasoning", "assistant"))
        key = self._stream[0]
        self._texts[key].append(text)
        d = self.items.delta(key, text)
        if d is not None and text:
            out.append(d)
        return out

    def _tool_start(self, update: S.ToolCallStart) -> list[Emission]:
        out = self._close_stream()
        state = ToolState(call_id=update.tool_call_id)
        state.merge(update)
        self._known_kind(state)
        self.tools[update.tool_call_id] = state
        key = f"tool:{update.tool_call_id}"
        if self.items.get(key) is None:
            out.append(self.items.start(key, tool_item_kind(state.kind), "assistant", self._parts(state)))
        if update.status in ("completed", "failed"):
            out += self._tool_end(state, update.status)
        return out

    def _tool_update(self, update: S.ToolCallProgress) -> list[Emission]:
        state = self.tools.get(update.tool_call_id)
        out: list[Emission] = []
        if state is None:  # an update for a call we never saw start: open it now
            out += self._close_stream()
            state = ToolState(call_id=update.tool_call_id, title=update.title or update.tool_call_id)
            self.tools[update.tool_call_id] = state
            state.merge(update)
            self._known_kind(state)
            out.append(self.items.start(f"tool:{state.call_id}", tool_item_kind(state.kind), "assistant"))
        else:
            state.merge(update)
        if update.status in ("completed", "failed"):
            out += self._tool_end(state, update.status)
        return out

    def _known_kind(self, state: ToolState) -> None:
        if state.kind in (None, "other") and state.title in self.tool_kinds:
            state.kind = self.tool_kinds[state.title]

    def _parts(self, state: ToolState, final: bool = False) -> list[Any]:
        kind = tool_item_kind(state.kind)
        if kind == "command":
            output, code = state.output() or None, state.exit_code()
            for tid in state.terminals:
                if self.terminal_output is not None:
                    got = self.terminal_output(tid)
                    if got is not None:
                        output, code = got[0] or output, got[1] if got[1] is not None else code
            return [CommandPart(command=state.command(), exit_code=code, output=output if final else None)]
        if kind == "file_change":
            whole = isinstance(state.raw_input, dict) and "content" in state.raw_input  # a whole-file write
            new_file = bool(state.diffs) and state.diffs[0][1].startswith("--- /dev/null")
            action = "write" if new_file or (whole and not state.diffs) else "patch"
            diff = "".join(d for _, d in state.diffs) or None
            return [FileRefPart(path=state.path(), action=action, diff=diff)]
        name = state.title or state.kind or "tool"
        return [ToolCallPart(name=name, arguments=state.raw_input, call_id=state.call_id)]

    def _tool_end(self, state: ToolState, status: str) -> list[Emission]:
        self.tools.pop(state.call_id, None)
        failed = status == "failed"
        key = f"tool:{state.call_id}"
        out: list[Emission] = []
        done = self.items.complete(key, self._parts(state, final=True), "failed" if failed else "completed")
        if done is not None:
            out.append(done)
        if tool_item_kind(state.kind) == "tool_call":
            parent = self.items.item_id_of(key)
            result = ToolResultPart(call_id=state.call_id, output=state.output(), is_error=failed)
            out += self.items.whole(f"result:{state.call_id}", "tool_result", "tool", [result], parent_id=parent)
        return out

    def _plan(self, update: S.AgentPlanUpdate) -> list[Emission]:
        out = self._close_stream()
        self._counter += 1
        entries = [{"content": e.content, "status": e.status, "priority": e.priority} for e in update.entries]
        lines = "\n".join(f"[{e['status']}] {e['content']}" for e in entries)
        parts = [StatusPart(label="plan", detail=lines), JsonPart(json=entries)]
        return out + self.items.whole(f"plan:{self._counter}", "status", "assistant", parts)

    def _usage_update(self, update: S.UsageUpdate) -> None:
        cost = update.cost.amount if update.cost is not None and update.cost.currency == "USD" else None
        base = self.usage or Usage()
        self.usage = base.model_copy(update={"total_cost_usd": cost} if cost is not None else {})

    # the end of a turn (the prompt request returned, failed, or the agent went away)

    def turn_ended(self, response: S.PromptResponse | None, error: str | None = None) -> list[Emission]:
        out = self._close_stream("completed" if response is not None else "failed")
        for state in list(self.tools.values()):
            out += self._tool_end(state, "failed")
        out += [Emission(e.type, e.data, synthetic=True) for e in self.items.fail_all()]
        if error is not None:
            out.append(Emission("error", ErrorData(message=error, code="acp_error")))
        usage = self._final_usage(response)
        reason = "error" if response is None else STOP_REASONS.get(response.stop_reason, "end_turn")
        if self.turn_id is not None:
            out.append(Emission("turn.ended", TurnEndedData(turn_id=self.turn_id, stop_reason=reason, usage=usage)))  # type: ignore[arg-type]
        self.turn_id = None
        self.usage = None
        return out

    def _final_usage(self, response: S.PromptResponse | None) -> Usage | None:
        usage = self.usage
        if response is not None and response.usage is not None:
            u = response.usage
            usage = (usage or Usage()).model_copy(
                update={"input_tokens": u.input_tokens, "output_tokens": u.output_tokens}
                | ({"cached_input_tokens": u.cached_read_tokens} if u.cached_read_tokens is not None else {})
            )
        elif response is not None and isinstance(response.field_meta, dict):
            # Gemini CLI reports tokens under _meta.quota.token_count instead of the (unstable) usage field
            tokens = (response.field_meta.get("quota") or {}).get("token_count") or {}
            if isinstance(tokens, dict) and tokens:
                usage = (usage or Usage()).model_copy(
                    update={"input_tokens": tokens.get("input_tokens"), "output_tokens": tokens.get("output_tokens")}
                )
        return usage
