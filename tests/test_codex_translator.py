"""The Codex translator on real app-server captures (tests/fixtures/codex) and its method catalog."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from sandbox_agent.agents.codex.translator import IGNORED, TRANSLATED, CodexTranslator
from sandbox_agent.agents.emission import Emission

FIXTURES = Path(__file__).parent / "fixtures" / "codex"
APP_SERVER = sorted(FIXTURES.glob("appserver_*.jsonl"))


def run(path: Path) -> list[Emission]:
    counter = itertools.count()
    t = CodexTranslator(lambda p: f"{p}{next(counter)}")
    turns = itertools.count(1)
    out: list[Emission] = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        msg = rec.get("msg")
        if rec.get("dir") == "out" and isinstance(msg, dict) and msg.get("method") == "turn/start":
            t.turn_id = f"turn_{next(turns)}"
        if rec.get("dir") != "in" or not isinstance(msg, dict) or "method" not in msg:
            continue
        if "id" in msg:
            out.extend(t.approval(msg["id"], msg["method"], msg.get("params") or {}))
        else:
            out.extend(t.translate(msg["method"], msg.get("params") or {}))
    return out


def test_every_method_in_the_catalog_is_translated_or_ignored() -> None:
    catalog = json.loads((FIXTURES / "method_catalog.json").read_text())
    server_side = [m["method"] for m in catalog["methods"] if m["kind"].startswith("server->client")]
    assert len(server_side) == 22
    for method in server_side:
        assert (method in TRANSLATED) != (method in IGNORED), method


@pytest.mark.parametrize("path", APP_SERVER, ids=[p.stem for p in APP_SERVER])
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
            opened.remove(e.data.item.item_id)  # type: ignore[attr-defined]


def completed(out: list[Emission], kind: str) -> list[Any]:
    return [e.data.item for e in out if e.type == "item.completed" and e.data.item.kind == kind]  # type: ignore[attr-defined]


def test_basic_tool_call() -> None:
    out = run(FIXTURES / "appserver_basic_toolcall.jsonl")
    cmd = completed(out, "command")[0].content[0]
    assert "echo hello > out.txt" in cmd.command and cmd.exit_code == 0 and cmd.output == "hello\n"
    assert completed(out, "reasoning") and completed(out, "message")[0].content[0].text == "done"
    ended = next(e for e in out if e.type == "turn.ended")
    assert ended.data.stop_reason == "end_turn" and ended.data.usage is not None  # type: ignore[attr-defined]


def test_approvals_and_declines() -> None:
    out = run(FIXTURES / "appserver_approval_untrusted_cmd_accept.jsonl")
    req = next(e for e in out if e.type == "permission.requested")
    assert req.data.action == "command" and "echo hello" in req.data.metadata["command"]  # type: ignore[attr-defined]
    patch = run(FIXTURES / "appserver_approval_untrusted_patch_inside_decline.jsonl")
    assert next(e for e in patch if e.type == "permission.requested").data.action == "file_change"  # type: ignore[attr-defined]
    assert completed(patch, "file_change")[0].status == "failed"
    cancel = run(FIXTURES / "appserver_approval_untrusted_cmd_cancel.jsonl")
    assert next(e for e in cancel if e.type == "turn.ended").data.stop_reason == "interrupted"  # type: ignore[attr-defined]


def test_errors_and_late_events_after_an_interrupt() -> None:
    errors = run(FIXTURES / "appserver_errors.jsonl")
    assert [e for e in errors if e.type == "error"]
    assert any(e.type == "turn.ended" and e.data.stop_reason == "error" for e in errors)  # type: ignore[attr-defined]
    late = run(FIXTURES / "appserver_interrupt_late.jsonl")
    ends = [i for i, e in enumerate(late) if e.type == "turn.ended"]
    assert late[ends[0]].data.stop_reason == "interrupted"  # type: ignore[attr-defined]
    # the interrupted command was closed with its turn; its late completion adds nothing afterwards
    after_first = [e for e in late[ends[0] + 1 :] if e.type.startswith("item.")]
    assert all(e.data.item.kind != "command" for e in after_first if e.type != "item.delta")  # type: ignore[attr-defined]


def test_unknown_methods_are_unparsed_not_crashes() -> None:
    t = CodexTranslator(lambda p: p + "1")
    assert t.translate("brand/new", {})[0].type == "agent.unparsed"
    assert t.translate("item/started", {})[0].type == "agent.unparsed"
    assert t.approval(1, "item/unknown/requestApproval", {})[0].type == "agent.unparsed"
