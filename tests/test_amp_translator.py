"""The Amp translator on real stream-JSON captures (tests/fixtures/amp)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from sandbox_agent.agents.amp.adapter import permission_rules
from sandbox_agent.agents.amp.translator import AmpTranslator
from sandbox_agent.agents.emission import Emission

FIXTURES = Path(__file__).parent / "fixtures" / "amp"
CAPTURES = sorted(FIXTURES.glob("*.jsonl"))


def run(path: Path) -> list[Emission]:
    counter = itertools.count()
    t = AmpTranslator(lambda p: f"{p}{next(counter)}")
    out: list[Emission] = []
    for line in path.read_text().splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if t.turn_id is None:
            t.turn_id = f"turn_{next(counter)}"
        out.extend(t.translate(msg))
    return out


@pytest.mark.parametrize("path", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_captures_translate_cleanly(path: Path) -> None:
    out = run(path)
    assert not [e for e in out if e.type == "agent.unparsed"]
    opened: set[str] = set()
    for e in out:
        if e.type == "item.started":
            opened.add(e.data.item.item_id)  # type: ignore[attr-defined]
        elif e.type == "item.delta":
            assert e.data.item_id in opened and e.synthetic  # type: ignore[attr-defined]
        elif e.type == "item.completed":
            opened.remove(e.data.item.item_id)  # type: ignore[attr-defined]
    assert not opened


def completed(out: list[Emission], kind: str) -> list[Any]:
    return [e.data.item for e in out if e.type == "item.completed" and e.data.item.kind == kind]  # type: ignore[attr-defined]


def test_shell_tool_becomes_a_command_with_output() -> None:
    out = run(FIXTURES / "stream_json_tool_turn_shell_command.jsonl")
    cmd = completed(out, "command")[0].content[0]
    assert cmd.command == "echo hello-from-fake" and cmd.output == "hello-from-fake\n" and cmd.exit_code == 0


def test_multi_turn_input_ends_turns_on_end_turn() -> None:
    out = run(FIXTURES / "stream_C1_stream_json_input_3turns.jsonl")
    assert len([e for e in out if e.type == "turn.ended"]) >= 3
    rejected = [i for i in completed(out, "command") if i.status == "failed"]
    assert rejected and "forbidden" in rejected[0].content[-1].output


def test_errors_and_thinking() -> None:
    err = run(FIXTURES / "stream_json_error_result.jsonl")
    assert any(e.type == "error" and "fake upstream model failure" in e.data.message for e in err)  # type: ignore[attr-defined]
    thinking = run(FIXTURES / "stream_json_thinking_on.jsonl")
    assert completed(thinking, "reasoning")


def test_rules_never_leave_an_ask() -> None:
    for mode in ("default", "plan", "accept_edits", "bypass"):
        rules = permission_rules(mode, "/x/delegate")
        assert rules[-1] == {"tool": "*", "action": "allow"}
        assert all(r["action"] in ("allow", "reject", "delegate") for r in rules)
    assert {r["tool"] for r in permission_rules("default", "/d") if r["action"] == "delegate"} >= {"Bash", "edit_file"}
    assert any(r["action"] == "reject" and r["tool"] == "edit_file" for r in permission_rules("plan", "/d"))
