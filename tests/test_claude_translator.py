"""The Claude translator on real captured stdout (tests/fixtures/claude, copied from the measured runs)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from sandbox_agent.agents.claude.translator import ClaudeTranslator
from sandbox_agent.agents.emission import Emission

FIXTURES = Path(__file__).parent / "fixtures" / "claude"
ALL = sorted(FIXTURES.glob("*.jsonl"))


def run(name: str, interrupting: bool = False) -> list[Emission]:
    counter = itertools.count()
    t = ClaudeTranslator(lambda prefix: f"{prefix}{next(counter)}")
    out: list[Emission] = []
    turn = itertools.count(1)
    t.turn_id = f"turn_{next(turn)}"
    t.interrupting = interrupting
    for line in (FIXTURES / name).read_text().splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if not isinstance(msg, dict) or "type" not in msg:
            continue
        out.extend(t.translate(msg))
        if msg["type"] == "result":
            t.turn_id = f"turn_{next(turn)}"
            t.interrupting = interrupting
    return out


def items(out: list[Emission], kind: str) -> list[Any]:
    return [e.data.item for e in out if e.type == "item.completed" and e.data.item.kind == kind]  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_every_capture_translates_cleanly(path: Path) -> None:
    out = run(path.name)
    assert not [e for e in out if e.type == "agent.unparsed"], "every kind in the captures is understood"
    open_items: set[str] = set()
    for e in out:
        if e.type == "item.started":
            open_items.add(e.data.item.item_id)  # type: ignore[attr-defined]
        elif e.type == "item.delta":
            assert e.data.item_id in open_items  # type: ignore[attr-defined]
        elif e.type == "item.completed":
            open_items.remove(e.data.item.item_id)  # type: ignore[attr-defined]
    assert not open_items, "every item is completed"


def test_streamed_command_with_output() -> None:
    out = run("exp1_partial__out.jsonl")
    cmd = items(out, "command")[0]
    assert cmd.content[0].command == "echo hello > out.txt" and cmd.content[0].exit_code == 0
    deltas = [e for e in out if e.type == "item.delta" and not e.synthetic]
    assert deltas, "stream_event deltas become item.delta"
    text = items(out, "message")[0]
    assert text.content[0].text == "done"
    assert [e.type for e in out][-1] == "turn.ended"
    assert out[-1].data.stop_reason == "end_turn" and out[-1].data.usage.output_tokens  # type: ignore[attr-defined]


def test_whole_messages_get_one_synthetic_delta() -> None:
    out = run("exp1_basic__out.jsonl")
    msg_deltas = [e for e in out if e.type == "item.delta"]
    assert msg_deltas and all(e.synthetic for e in msg_deltas)


def test_write_is_a_file_change_with_a_diff() -> None:
    out = run("exp4_mode_bypassPermissions__out.jsonl")
    change = items(out, "file_change")[0].content[0]
    assert change.action == "write" and change.diff and change.diff.startswith("--- a/")


def test_thinking_is_reasoning() -> None:
    out = run("exp10_thinking__out.jsonl")
    reasoning = items(out, "reasoning")
    assert reasoning and reasoning[0].content[0].type == "reasoning"


def test_permission_and_question_requests() -> None:
    perm = next(e for e in run("exp3_allow__out.jsonl") if e.type == "permission.requested")
    assert perm.data.action == "Bash" and perm.data.metadata["suggestions"]  # type: ignore[attr-defined]
    q = next(e for e in run("exp5_ask_answer__out.jsonl") if e.type == "question.requested")
    assert q.data.prompt == "Which color should the file say?"  # type: ignore[attr-defined]
    assert q.data.options == ["Red", "Blue"] and q.data.questions[0].header == "Color"  # type: ignore[attr-defined]


def test_cancelled_permission_resolves_as_rejected() -> None:
    out = run("exp8_interrupt_perm__out.jsonl", interrupting=True)
    resolved = [e for e in out if e.type == "permission.resolved"]
    assert resolved and resolved[0].data.status == "reject"  # type: ignore[attr-defined]
    assert next(e for e in out if e.type == "turn.ended").data.stop_reason == "interrupted"  # type: ignore[attr-defined]


def test_api_errors_and_retries() -> None:
    retry = run("exp10_err_529_then_ok__out.jsonl")
    assert any(e.type == "error" and e.data.code == "api_retry" for e in retry)  # type: ignore[attr-defined]
    assert [e for e in retry if e.type == "turn.ended"][-1].data.stop_reason == "end_turn"  # type: ignore[attr-defined]
    bad = run("exp10_err_400__out.jsonl")
    assert any(e.type == "error" and "400" in e.data.message for e in bad)  # type: ignore[attr-defined]
    assert [e for e in bad if e.type == "turn.ended"][-1].data.stop_reason == "error"  # type: ignore[attr-defined]


def test_subagent_items_are_parented_to_the_agent_call() -> None:
    out = run("exp10_subagent__out.jsonl")
    started = [e.data.item for e in out if e.type == "item.started"]  # type: ignore[attr-defined]
    calls = {i.native_item_id: i.item_id for i in started if i.kind == "tool_call"}
    children = [i for i in started if i.parent_id is not None]
    assert children and all(c.parent_id in calls.values() or c.kind == "tool_result" for c in children)


def test_max_turns_and_unknown_input() -> None:
    out = run("exp10_flag_max_turns_1__out.jsonl")
    assert any(e.type == "error" and e.data.code == "max_turns" for e in out)  # type: ignore[attr-defined]
    t = ClaudeTranslator(lambda p: p + "1")
    assert t.translate({"type": "brand_new_kind"})[0].type == "agent.unparsed"
    assert t.translate({"type": "assistant", "message": None})[0].type == "agent.unparsed"
    assert t.translate({"type": "system", "subtype": "mystery"})[0].type == "agent.unparsed"
