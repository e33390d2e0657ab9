"""The OpenCode translator on real SSE captures (tests/fixtures/opencode)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from sandbox_agent.agents.emission import Emission
from sandbox_agent.agents.opencode.translator import IGNORED, TRANSLATED, OpenCodeTranslator, session_of

FIXTURES = Path(__file__).parent / "fixtures" / "opencode"
CAPTURES = sorted(FIXTURES.glob("*.jsonl"))


def run(path: Path) -> list[Emission]:
    counter = itertools.count()
    translators: dict[str, OpenCodeTranslator] = {}
    out: list[Emission] = []
    for line in path.read_text().splitlines():
        event = json.loads(line).get("event") or {}
        event = event.get("payload", event)
        sid = session_of(event)
        if not sid:
            continue
        t = translators.setdefault(sid, OpenCodeTranslator(lambda p: f"{p}{next(counter)}"))
        if t.turn_id is None and event.get("type") == "session.status":
            t.turn_id = f"turn_{next(counter)}"
        out.extend(t.translate(event))
    return out


def test_every_observed_event_type_is_translated_or_ignored() -> None:
    observed = json.loads((FIXTURES / "event_shapes_observed.json").read_text())["event_types"]
    assert len(observed) == 22
    for etype in observed:
        assert (etype in TRANSLATED) != (etype in IGNORED), etype


@pytest.mark.parametrize("path", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_captures_translate_cleanly(path: Path) -> None:
    out = run(path)
    assert not [e for e in out if e.type == "agent.unparsed"]
    opened: set[str] = set()
    for e in out:
        if e.type == "item.started":
            opened.add(e.data.item.item_id)  # type: ignore[attr-defined]
        elif e.type == "item.delta":
            assert e.data.item_id in opened  # type: ignore[attr-defined]
        elif e.type == "item.completed":
            opened.discard(e.data.item.item_id)  # type: ignore[attr-defined]


def completed(out: list[Emission], kind: str) -> list[Any]:
    return [e.data.item for e in out if e.type == "item.completed" and e.data.item.kind == kind]  # type: ignore[attr-defined]


def test_tool_turn() -> None:
    out = run(FIXTURES / "scen1_event.jsonl")
    cmd = completed(out, "command")[0].content[0]
    assert "hello-from-fake-model" in cmd.command and cmd.exit_code == 0 and "hello-from-fake-model" in cmd.output
    msgs = completed(out, "message")
    assert [m.content[0].text for m in msgs] == ["done"], "the user's echoed prompt is not an assistant message"
    ended = next(e for e in out if e.type == "turn.ended")
    assert ended.data.stop_reason == "end_turn" and ended.data.usage.output_tokens  # type: ignore[attr-defined]


def test_permissions_questions_and_abort() -> None:
    once = run(FIXTURES / "perm_once.jsonl")
    req = next(e for e in once if e.type == "permission.requested")
    assert req.data.action == "bash" and req.data.metadata["patterns"]  # type: ignore[attr-defined]
    assert next(e for e in once if e.type == "permission.resolved").data.status == "accept"  # type: ignore[attr-defined]
    write = run(FIXTURES / "perm_write_once.jsonl")
    change = completed(write, "file_change")[0].content[0]
    assert change.action == "write" and "hello from write tool" in change.diff
    q = run(FIXTURES / "perm_question_reply.jsonl")
    asked = next(e for e in q if e.type == "question.requested")
    assert asked.data.options == ["Red", "Blue"]  # type: ignore[attr-defined]
    assert next(e for e in q if e.type == "question.resolved").data.response == [["Blue"]]  # type: ignore[attr-defined]
    abort = run(FIXTURES / "perm_abort.jsonl")
    assert not [e for e in abort if e.type == "error"], "an abort is not an API error"


def test_api_errors_and_retries() -> None:
    bad = run(FIXTURES / "error_400_invalid_events.jsonl")
    err = next(e for e in bad if e.type == "error")
    assert err.data.code == "APIError" and err.data.details["statusCode"] == 400  # type: ignore[attr-defined]
    retry = run(FIXTURES / "error_500_retry_fast_events.jsonl")
    assert any(e.type == "error" and e.data.code == "retry" for e in retry)  # type: ignore[attr-defined]


def test_unknown_events_are_unparsed() -> None:
    t = OpenCodeTranslator(lambda p: p + "1")
    assert t.translate({"type": "brand.new", "properties": {}})[0].type == "agent.unparsed"
    assert t.translate({"type": "message.part.updated", "properties": {}})[0].type == "agent.unparsed"
