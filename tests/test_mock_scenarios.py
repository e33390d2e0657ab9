"""Every mock agent scenario end to end, through the embedded client (a real `sandbox-agent stdio` child)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from sandbox_agent.client import RpcError, SandboxAgent, Session
from sandbox_agent.schema.events import UniversalEvent

pytestmark = pytest.mark.anyio


async def turn_events(session: Session, offset: int, turn_id: str) -> list[UniversalEvent]:
    """Events after `offset` up to and including the end of `turn_id`."""
    out = []
    async with contextlib.aclosing(session.events(offset)) as events:
        async for e in events:
            out.append(e)
            if e.type == "turn.ended" and e.data.turn_id == turn_id:  # type: ignore[union-attr]
                break
    return out


async def wait_for(session: Session, offset: int, type_: str) -> UniversalEvent:
    async with contextlib.aclosing(session.events(offset)) as events:
        async for e in events:
            if e.type == type_:
                return e
    raise AssertionError(f"no {type_}")


def items(events: list[UniversalEvent], kind: str) -> list[Any]:
    return [e.data.item for e in events if e.type == "item.completed" and e.data.item.kind == kind]  # type: ignore[union-attr]


def check_item_brackets(events: list[UniversalEvent]) -> None:
    """Every item goes started -> delta* -> completed, and sequences are gap-free."""
    open_items: set[str] = set()
    seqs = [e.sequence for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    for e in events:
        if e.type == "item.started":
            open_items.add(e.data.item.item_id)  # type: ignore[union-attr]
        elif e.type == "item.delta":
            assert e.data.item_id in open_items  # type: ignore[union-attr]
        elif e.type == "item.completed":
            open_items.remove(e.data.item.item_id)  # type: ignore[union-attr]
    assert not open_items


async def test_plain_reply_streams_deltas(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    result = await s.prompt("hello there, mock agent")
    assert result.text == "You said: hello there, mock agent"
    assert result.stop_reason == "end_turn"
    events = await turn_events(s, 0, result.turn_id)
    types = [e.type for e in events]
    assert types[0] == "session.started"
    assert types.count("item.delta") == 3
    deltas = "".join(e.data.delta for e in events if e.type == "item.delta")  # type: ignore[union-attr]
    assert deltas == result.text
    user = [i for i in items(events, "message") if i.role == "user"]
    assert user[0].content[0].text == "hello there, mock agent"
    check_item_brackets(events)


async def test_tool_call_with_result(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    r = await s.prompt("tool weather in Paris")
    events = await turn_events(s, 0, r.turn_id)
    call = items(events, "tool_call")[0]
    result = items(events, "tool_result")[0]
    assert call.content[0].name == "search" and call.content[0].arguments == {"query": "weather in Paris"}
    assert result.content[0].call_id == call.content[0].call_id
    assert result.parent_id == call.item_id
    assert "3 results" in result.content[0].output
    check_item_brackets(events)


async def test_file_change_with_diff(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    r = await s.prompt("file src/app.py")
    events = await turn_events(s, 0, r.turn_id)
    change = items(events, "file_change")[0].content[0]
    assert change.path == "src/app.py" and change.action == "write"
    assert change.diff.startswith("--- /dev/null\n+++ b/src/app.py")
    synthetic = [e for e in events if e.type == "item.delta" and e.synthetic]
    assert synthetic, "whole file changes get one synthetic delta"


async def test_command_execution_with_output(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    r = await s.prompt("command echo hi there")
    events = await turn_events(s, 0, r.turn_id)
    cmd = items(events, "command")[0]
    assert cmd.content[0].command == "echo hi there"
    assert cmd.content[0].output == "hi there\n" and cmd.content[0].exit_code == 0
    assert cmd.status == "completed"


async def test_reasoning(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    r = await s.prompt("reasoning")
    events = await turn_events(s, 0, r.turn_id)
    reasoning = items(events, "reasoning")[0]
    assert reasoning.content[0].type == "reasoning" and "step by step" in reasoning.content[0].text
    assert r.text == "Thought it through: the answer is 42."


async def test_error_event_ends_turn_with_error(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    r = await s.prompt("error the model is overloaded")
    assert r.stop_reason == "error"
    events = await turn_events(s, 0, r.turn_id)
    err = next(e for e in events if e.type == "error")
    assert err.data.message == "the model is overloaded" and err.data.code == "mock_error"  # type: ignore[union-attr]
    info = await s.get()
    assert info.status == "idle"


@pytest.mark.parametrize("reply", ["once", "always", "reject"])
async def test_permission_round_trip(stdio_client: SandboxAgent, reply: str) -> None:
    s = await stdio_client.create_session("mock")
    turn = await s.send("permission secrets.txt")
    req = await wait_for(s, 0, "permission.requested")
    assert req.data.action == "write_file" and req.data.metadata == {"input": {"path": "secrets.txt"}}  # type: ignore[union-attr]
    info = await s.get()
    assert info.status == "awaiting_input"
    assert info.pending_permissions[0].permission_id == req.data.permission_id  # type: ignore[union-attr]
    await s.reply_permission(req.data.permission_id, reply, "not today" if reply == "reject" else None)  # type: ignore[union-attr]
    events = await turn_events(s, req.sequence, turn)
    resolved = next(e for e in events if e.type == "permission.resolved")
    expected = {"once": "accept", "always": "accept_for_session", "reject": "reject"}[reply]
    assert resolved.data.status == expected  # type: ignore[union-attr]
    final = items(events, "message")[-1].content[0].text
    if reply == "reject":
        assert final == "Permission denied: not today"
        assert not items(events, "file_change")
    else:
        assert final.startswith(f"Permission granted ({reply})")
        assert items(events, "file_change")[0].content[0].path == "secrets.txt"
    # a second answer to a resolved request is told so; an unknown id is not found
    with pytest.raises(RpcError) as exc:
        await s.reply_permission(req.data.permission_id, "once")  # type: ignore[union-attr]
    assert exc.value.kind == "already_resolved"
    with pytest.raises(RpcError) as exc:
        await s.reply_permission("perm_nope", "once")
    assert exc.value.kind == "permission_not_found"
    if reply == "always":  # the agent remembers: no second request
        r2 = await s.prompt("permission again.txt")
        assert r2.text.startswith("Permission granted (always)")


async def test_question_reply_and_reject(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    turn = await s.send("question Pick a color")
    q = await wait_for(s, 0, "question.requested")
    assert q.data.prompt == "Pick a color" and q.data.options == ["Red", "Green", "Blue"]  # type: ignore[union-attr]
    assert (await s.get()).status == "awaiting_input"
    await s.answer_question(q.data.question_id, [["Green"]])  # type: ignore[union-attr]
    events = await turn_events(s, q.sequence, turn)
    resolved = next(e for e in events if e.type == "question.resolved")
    assert resolved.data.status == "answered" and resolved.data.response == [["Green"]]  # type: ignore[union-attr]
    assert items(events, "message")[-1].content[0].text == "You chose Green."

    turn2 = await s.send("question Again?")
    q2 = await wait_for(s, events[-1].sequence, "question.requested")
    await s.reject_question(q2.data.question_id)  # type: ignore[union-attr]
    events2 = await turn_events(s, q2.sequence, turn2)
    assert [e.data.status for e in events2 if e.type == "question.resolved"] == ["rejected"]  # type: ignore[union-attr]
    assert items(events2, "message")[-1].content[0].text == "You declined to answer."


async def test_slow_turn_interrupted_and_session_stays_usable(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    turn = await s.send("slow 30")
    await wait_for(s, 0, "item.delta")
    with pytest.raises(RpcError) as busy:
        await s.send("hello")
    assert busy.value.kind == "session_busy"
    assert await s.interrupt() is True
    events = await turn_events(s, 0, turn)
    assert events[-1].data.stop_reason == "interrupted"  # type: ignore[union-attr]
    failed = [e for e in events if e.type == "item.completed" and e.data.item.status == "failed"]  # type: ignore[union-attr]
    assert failed, "the half-streamed message is closed, not left open"
    check_item_brackets(events[events.index(next(e for e in events if e.type == "turn.started")) :])
    assert await s.interrupt() is False
    r = await s.prompt("still there?")
    assert r.text == "You said: still there?"


async def test_crash_mid_turn_ends_session_with_stderr(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    await s.send("crash")
    events = [e async for e in s.events()]
    types = [e.type for e in events]
    assert types[-1] == "session.ended"
    assert types[-2] == "turn.ended"
    ended = events[-1].data
    assert ended.reason == "error" and ended.terminated_by == "agent" and ended.exit_code == 1  # type: ignore[union-attr]
    assert "simulated crash" in ended.stderr.head and ended.stderr.total_lines == 4  # type: ignore[union-attr]
    # the partial delta written before the crash is kept, and the item is closed as failed
    assert any(e.type == "item.delta" and e.data.delta == "Abou" for e in events)  # type: ignore[union-attr]
    check_item_brackets(events)
    info = await s.get()
    assert info.status == "ended"
    # the next message restarts the agent (resume) and the same transcript goes on
    r = await s.prompt("anyone?")
    assert r.text == "You said: anyone?"
    after, _, _ = await stdio_client.read_events(s.id, events[-1].sequence, 100)
    assert after[0].type == "session.started" and after[0].data.metadata["resumed"] is True  # type: ignore[union-attr]


async def test_images_and_files_reach_the_agent(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    r = await s.prompt(
        [
            {"type": "text", "text": "look"},
            {"type": "image", "mime": "image/png", "data": "iVBORw0KGgo="},
            {"type": "file", "path": "/tmp/report.pdf", "mime": "application/pdf"},
        ]
    )
    assert r.text == "You said: look (with 1 image, 1 file)"
    events = await turn_events(s, 0, r.turn_id)
    user = next(i for i in items(events, "message") if i.role == "user")
    assert [p.type for p in user.content] == ["text", "image", "file_ref"]


async def test_everything_in_one_turn(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    r = await s.prompt("everything")
    events = await turn_events(s, 0, r.turn_id)
    kinds = {e.data.item.kind for e in events if e.type == "item.completed"}  # type: ignore[union-attr]
    assert kinds == {"message", "reasoning", "tool_call", "tool_result", "command", "file_change"}
    check_item_brackets(events)


async def test_terminate_ends_session_by_daemon(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    await s.send("slow 30")
    await wait_for(s, 0, "item.delta")
    info = await s.terminate()
    assert info.status == "ended"
    events = [e async for e in s.events()]
    assert events[-1].type == "session.ended"
    assert events[-1].data.reason == "terminated" and events[-1].data.terminated_by == "daemon"  # type: ignore[union-attr]
    assert events[-2].type == "turn.ended"
    with pytest.raises(RpcError) as exc:  # ended on purpose: no silent restart
        await s.send("anyone?")
    assert exc.value.kind == "session_ended"


async def test_resume_continues_the_transcript(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    await s.prompt("first")
    await s.terminate()
    s2 = await stdio_client.resume_session(s.id)
    assert s2.info is not None and s2.info.status == "idle"
    r = await s2.prompt("second")
    assert r.text == "You said: second"
    events, _, _ = await stdio_client.read_events(s.id, 0, 1000)
    assert [e.type for e in events].count("session.started") == 2
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
