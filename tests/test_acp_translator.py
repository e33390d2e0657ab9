"""The ACP translator on session/update traffic captured from the real pinned Gemini CLI and pi (tests/fixtures/acp),
and on hand-written updates for the kinds those turns do not show."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import acp
from acp import schema as S
from pydantic import TypeAdapter

from sandbox_agent.agents.acp.translator import AcpTranslator
from sandbox_agent.agents.emission import Emission
from sandbox_agent.agents.pi.driver import TOOL_KINDS as PI_TOOL_KINDS

FIXTURES = Path(__file__).parent / "fixtures" / "acp"
UPDATE = TypeAdapter(S.SessionNotification)


def ids() -> Any:
    counter = itertools.count(1)
    return lambda prefix: f"{prefix}{next(counter)}"


def replay(name: str, tool_kinds: dict[str, str] | None = None) -> list[Emission]:
    t = AcpTranslator(ids(), tool_kinds=tool_kinds)
    t.turn_id = "turn_1"
    out: list[Emission] = []
    for line in (FIXTURES / name).read_text().splitlines():
        msg = json.loads(line)
        if msg.get("method") == "session/update":
            out += t.update(UPDATE.validate_python(msg["params"]).update)
        elif "result" in msg:
            out += t.turn_ended(S.PromptResponse.model_validate(msg["result"]))
    return out


def items(out: list[Emission], kind: str) -> list[Any]:
    return [e.data.item for e in out if e.type == "item.completed" and e.data.item.kind == kind]  # type: ignore[attr-defined]


def check_brackets(out: list[Emission]) -> None:
    started = [e.data.item.item_id for e in out if e.type == "item.started"]  # type: ignore[attr-defined]
    done = [e.data.item.item_id for e in out if e.type == "item.completed"]  # type: ignore[attr-defined]
    assert sorted(started) == sorted(done) and len(set(started)) == len(started)
    assert not [e for e in out if e.type == "agent.unparsed"]
    assert out[-1].type == "turn.ended"


def test_gemini_tool_turn() -> None:
    out = replay("gemini_tool_turn.jsonl")
    check_brackets(out)
    assert "Let me write it." in items(out, "reasoning")[0].content[0].text
    write, replace = items(out, "file_change")
    assert write.content[0].path.endswith("a.txt") and "+x" in write.content[0].diff
    assert replace.content[0].action == "patch" and "-x" in replace.content[0].diff and "+y" in replace.content[0].diff
    command = items(out, "command")[0]
    assert command.content[0].command == "cat a.txt" and command.status == "completed"
    assert items(out, "message")[0].content[0].text == "All done."
    usage = out[-1].data.usage  # type: ignore[attr-defined]
    assert usage.input_tokens == 48 and usage.output_tokens == 28  # from _meta.quota
    assert out[-1].data.stop_reason == "end_turn"  # type: ignore[attr-defined]


def test_pi_tool_turn() -> None:
    out = replay("pi_tool_turn.jsonl")  # pi-acp 0.0.34 types its tools: no title mapping needed
    check_brackets(out)
    write, edit = items(out, "file_change")
    assert write.content[0].action == "write" and write.content[0].path.endswith("a.txt")
    assert edit.content[0].action == "patch" and "-x" in edit.content[0].diff and "+y" in edit.content[0].diff
    command = items(out, "command")[0]
    # the output and exit code arrive in the terminal _meta pi-acp sends (Zed's convention)
    assert command.content[0].command == "cat a.txt" and command.content[0].output == "y\n"
    assert command.content[0].exit_code == 0
    assert not items(out, "tool_call")
    assert items(out, "message")[-1].content[0].text == "All done."
    mapped = replay("pi_tool_turn.jsonl", PI_TOOL_KINDS)
    assert [(e.type, getattr(e.data, "item", None) and e.data.item.kind) for e in mapped] == [  # type: ignore[attr-defined]
        (e.type, getattr(e.data, "item", None) and e.data.item.kind) for e in out  # type: ignore[attr-defined]
    ]


def test_interleaved_chunks_open_new_items_and_failures_close_them() -> None:
    t = AcpTranslator(ids())
    t.turn_id = "turn_1"
    out = t.update(acp.update_agent_message_text("a"))
    out += t.update(acp.update_agent_thought_text("hm"))
    out += t.update(acp.update_agent_message_text("b"))
    out += t.update(S.ToolCallStart(session_update="tool_call", tool_call_id="c1", title="fetch", kind="fetch"))
    out += t.update(S.CurrentModeUpdate(session_update="current_mode_update", current_mode_id="plan"))
    out += t.turn_ended(None, "the agent went away")
    kinds = [(e.type, getattr(getattr(e.data, "item", None), "kind", None)) for e in out if e.type != "item.delta"]
    assert kinds == [
        ("item.started", "message"),
        ("item.completed", "message"),
        ("item.started", "reasoning"),
        ("item.completed", "reasoning"),
        ("item.started", "message"),
        ("item.completed", "message"),
        ("item.started", "tool_call"),
        ("item.completed", "tool_call"),
        ("item.started", "tool_result"),
        ("item.completed", "tool_result"),
        ("error", None),
        ("turn.ended", None),
    ]
    assert out[-1].data.stop_reason == "error"  # type: ignore[attr-defined]
    assert items(out, "tool_call")[0].status == "failed" and items(out, "tool_result")[0].content[0].is_error


def test_cancelled_maps_to_interrupted_with_usage() -> None:
    t = AcpTranslator(ids())
    t.turn_id = "turn_1"
    usage = S.Usage(input_tokens=3, output_tokens=2, total_tokens=5, cached_read_tokens=1)
    out = t.turn_ended(S.PromptResponse(stop_reason="cancelled", usage=usage))
    data = out[-1].data
    assert data.stop_reason == "interrupted"  # type: ignore[attr-defined]
    assert (data.usage.input_tokens, data.usage.output_tokens, data.usage.cached_input_tokens) == (3, 2, 1)  # type: ignore[attr-defined]


def test_an_unknown_update_is_reported_not_raised() -> None:
    t = AcpTranslator(ids())
    out = t.update(object())
    assert [e.type for e in out] == ["agent.unparsed"]
