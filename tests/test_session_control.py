"""Session control while it runs, with the mock agent: queue, steer, configure, fork, and their bad inputs."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from sandbox_agent.client import SandboxAgent, Session
from sandbox_agent.rpc.errors import RpcError
from sandbox_agent.schema.events import UniversalEvent

pytestmark = pytest.mark.anyio


async def collect(session: Session, offset: int, stop, timeout: float = 30) -> list[UniversalEvent]:  # type: ignore[no-untyped-def]
    out: list[UniversalEvent] = []

    async def run() -> None:
        async with contextlib.aclosing(session.events(offset)) as events:
            async for e in events:
                out.append(e)
                if stop(e):
                    return

    await asyncio.wait_for(run(), timeout)
    return out


def turn_end(turn_id: str):  # type: ignore[no-untyped-def]
    return lambda e: e.type == "turn.ended" and e.data.turn_id == turn_id


def replies(events: list[UniversalEvent]) -> list[str]:
    return [
        e.data.item.content[0].text
        for e in events
        if e.type == "item.completed"
        and e.data.item.kind == "message"
        and e.data.item.role == "assistant"
        and e.data.item.content
    ]


async def test_three_queued_messages_run_in_order(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    slow = await s.send("slow 1.5")
    sent = [await s.deliver(f"follow-up {i}", delivery="queue") for i in (1, 2, 3)]
    assert [r.outcome for r in sent] == ["queued"] * 3 and [r.position for r in sent] == [1, 2, 3]
    listed = await s.queue()
    assert [m.message_id for m in listed] == [r.message_id for r in sent]
    events = await collect(s, 0, turn_end(sent[-1].turn_id))
    turns = [e.data.turn_id for e in events if e.type == "turn.started"]
    assert turns == [slow] + [r.turn_id for r in sent], "each queued message is a turn of its own, in order"
    assert replies(events)[-3:] == [f"You said: follow-up {i}" for i in (1, 2, 3)]
    queued = [e for e in events if e.type == "message.queued"]
    assert [e.data.position for e in queued] == [1, 2, 3]
    delivered = [e.data.message_id for e in events if e.type == "message.dequeued"]
    assert delivered == [r.message_id for r in sent]
    assert await s.queue() == []


async def test_prompt_with_queue_waits_for_its_own_turn(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    await s.send("slow 1")
    r = await s.prompt("after the slow one", delivery="queue", timeout=30)
    assert r.text == "You said: after the slow one" and r.stop_reason == "end_turn"
    # with the session idle, queue and steer simply start the turn
    started = await s.deliver("now", delivery="queue")
    assert started.outcome == "started" and started.message_id is None


async def test_reject_stays_the_default(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    await s.send("slow 2")
    with pytest.raises(RpcError) as exc:
        await s.send("hello")
    assert exc.value.kind == "session_busy"


async def test_dequeue_removes_a_message(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    await s.send("slow 1.5")
    keep = await s.deliver("keep me", delivery="queue")
    drop = await s.deliver("drop me", delivery="queue")
    removed = await s.dequeue(drop.message_id)
    assert removed.message_id == drop.message_id and removed.content[0].text == "drop me"
    assert [m.message_id for m in await s.queue()] == [keep.message_id]
    with pytest.raises(RpcError) as exc:
        await s.dequeue("msg_unknown")
    assert exc.value.kind == "message_not_found" and "msg_unknown" in exc.value.message
    events = await collect(s, 0, turn_end(keep.turn_id))
    assert "You said: drop me" not in replies(events)
    assert any(e.type == "message.dequeued" and e.data.reason == "removed" for e in events)


async def test_steer_is_native_on_the_mock(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    turn = await s.send("slow 2")
    await collect(s, 0, lambda e: e.type == "item.delta")
    r = await s.deliver("use the other API", delivery="steer")
    assert r.outcome == "steered" and r.native is True and r.turn_id == turn
    events = await collect(s, 0, turn_end(turn))
    steered = next(e for e in events if e.type == "message.steered")
    assert steered.data.native and steered.data.turn_id == turn and steered.data.fallback is None
    assert "Steered: use the other API" in replies(events)
    assert sum(e.type == "turn.started" for e in events) == 1, "no new turn: the message went into the running one"
    assert (await s.prompt("history", timeout=30)).text == "History: slow 2 | use the other API | history"


async def test_configure_changes_the_next_turn(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock", model="mock-a")
    assert (await s.prompt("settings")).text == "model=mock-a agent_mode=chat permission_mode=default"
    r = await s.configure(model="mock-b", agent_mode="plan", permission_mode="bypass")
    assert (r.model, r.agent_mode, r.permission_mode, r.how) == ("mock-b", "plan", "bypass", "live")
    assert (await s.prompt("settings")).text == "model=mock-b agent_mode=plan permission_mode=bypass"
    info = await s.get()
    assert (info.model, info.agent_mode, info.permission_mode) == ("mock-b", "plan", "bypass")
    events = await collect(s, 0, lambda e: e.type == "session.configured")
    assert events[-1].data.model == "mock-b" and events[-1].data.how == "live"


async def test_configure_permission_mode_asks_or_not(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock", permission_mode="bypass")
    r = await s.prompt("permission a.txt")
    assert r.text.startswith("Permission granted (bypass)")
    await s.configure(permission_mode="default")
    turn = await s.send("permission b.txt")
    req = (await collect(s, 0, lambda e: e.type == "permission.requested"))[-1]
    await s.reply_permission(req.data.permission_id, "once")
    await collect(s, req.sequence, turn_end(turn))
    await s.configure(permission_mode="accept_edits")
    events_before = (await s.get()).event_count
    r = await s.prompt("permission c.txt")
    assert r.text.startswith("Permission granted (accept_edits)")
    after = await collect(s, events_before, turn_end(r.turn_id))
    assert not any(e.type == "permission.requested" for e in after)


async def test_configure_while_running_applies_after_the_turn(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    await s.send("slow 1")
    r = await s.configure(model="later")
    assert r.note and "takes effect" in r.note
    assert (await s.prompt("settings", delivery="queue", timeout=30)).text.startswith("model=later ")


async def test_fork_keeps_history_up_to_the_boundary(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    await s.prompt("alpha")
    first = await s.prompt("beta")
    events = await collect(s, 0, turn_end(first.turn_id))
    boundary = events[-1].sequence
    await s.prompt("gamma")
    fork = await s.fork(at_sequence=boundary)
    assert fork.id != s.id
    assert (await fork.prompt("history")).text == "History: alpha | beta | history"
    started = (await collect(fork, 0, lambda e: e.type == "session.started"))[0]
    assert started.sequence == 1 and started.data.forked_from == s.id and started.data.at_sequence == boundary
    # the source goes on unaffected
    assert (await s.prompt("history")).text == "History: alpha | beta | gamma | history"
    # the default is the last turn boundary; a given id is used
    whole = await s.fork(new_session_id="whole-fork")
    assert whole.id == "whole-fork"
    assert (await whole.prompt("history")).text == "History: alpha | beta | gamma | history | history"


async def test_bad_input_gets_clear_errors(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock")
    await s.prompt("one")
    with pytest.raises(RpcError) as exc:
        await s.fork(at_sequence=2)
    assert exc.value.kind == "not_turn_boundary" and "turn boundary" in exc.value.message
    with pytest.raises(RpcError) as exc:
        await s.fork(at_sequence=10_000)
    assert exc.value.kind == "not_turn_boundary"
    with pytest.raises(RpcError) as exc:
        await s.configure(agent_mode="yolo")
    assert exc.value.kind == "unsupported_mode" and "chat, plan" in exc.value.message
    with pytest.raises(RpcError) as exc:
        await s.configure(permission_mode="yolo")
    assert exc.value.code == -32602
    with pytest.raises(RpcError) as exc:
        await s.configure()
    assert exc.value.code == -32602
    with pytest.raises(RpcError) as exc:
        await stdio_client.call("sessions/send_message", {"session_id": s.id, "message": "x", "delivery": "later"})
    assert exc.value.code == -32602
    await s.terminate()
    for delivery in ("queue", "steer"):
        with pytest.raises(RpcError) as exc:
            await s.send("too late", delivery=delivery)  # type: ignore[arg-type]
        assert exc.value.kind == "session_ended" and "resume" in exc.value.message
    with pytest.raises(RpcError) as exc:
        await s.configure(model="x")
    assert exc.value.kind == "session_ended"
    # the daemon keeps serving
    assert (await (await stdio_client.create_session("mock")).prompt("still here")).text == "You said: still here"


async def test_queued_message_survives_kill_9_and_runs_after_resume(server_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    srv = server_factory(state_dir=state)
    client = await SandboxAgent.connect(srv.url, srv.token, reconnect=False)
    s = await client.create_session("mock", session_id="q")
    await s.send("slow 30")
    queued = await s.deliver("after the crash", delivery="queue")
    await collect(s, 0, lambda e: e.type == "message.queued")
    srv.kill9()
    await client.close()

    srv2 = server_factory(state_dir=state)
    c2 = await SandboxAgent.connect(srv2.url, srv2.token)
    s2 = Session(c2, "q", None)
    assert [m.message_id for m in await s2.queue()] == [queued.message_id], "the queue came back from the journal"
    resumed = await c2.resume_session("q")
    events = await collect(resumed, 0, turn_end(queued.turn_id))
    assert replies(events)[-1] == "You said: after the crash"
    assert await resumed.queue() == []
    await c2.close()


async def test_mcp_send_message_takes_delivery() -> None:
    from mcp import Client

    from sandbox_agent.mcp.backend import InProcessBackend
    from sandbox_agent.mcp.facade import build_server
    from sandbox_agent.server.daemon import Daemon

    daemon = Daemon(ephemeral=True)
    await daemon.start()
    try:
        async with Client(build_server(InProcessBackend(daemon))) as client:
            start = await client.call_tool("start_session", {"agent": "mock"})
            sid = start.structured_content["session_id"]  # type: ignore[index]
            running = await client.call_tool("send_message", {"session_id": sid, "text": "slow 1", "wait": False})
            assert not running.is_error
            queued = await client.call_tool(
                "send_message", {"session_id": sid, "text": "queued via mcp", "delivery": "queue", "timeout": 30}
            )
            assert not queued.is_error and queued.structured_content["text"] == "You said: queued via mcp"  # type: ignore[index]
            bad = await client.call_tool("send_message", {"session_id": sid, "text": "x", "delivery": "whenever"})
            assert bad.is_error
    finally:
        await daemon.stop()


def test_cli_api_covers_the_control_methods(server) -> None:  # type: ignore[no-untyped-def]
    import json
    import subprocess
    import sys

    def api(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "sandbox_agent", "api", *args, "--endpoint", server.url, "--token", server.token]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    assert api("sessions/create", "agent=mock", "session_id=c1").returncode == 0
    assert api("sessions/send_message", "session_id=c1", "message=slow 2").returncode == 0
    queued = json.loads(api("sessions/send_message", "session_id=c1", "message=later", "delivery=queue").stdout)
    assert queued["outcome"] == "queued"
    listing = json.loads(api("sessions/queue", "session_id=c1").stdout)
    assert [m["message_id"] for m in listing["messages"]] == [queued["message_id"]]
    removed = json.loads(api("sessions/dequeue", "session_id=c1", f"message_id={queued['message_id']}").stdout)
    assert removed["removed"]["message_id"] == queued["message_id"]
    configured = json.loads(api("sessions/configure", "session_id=c1", "model=cli-model").stdout)
    assert configured["model"] == "cli-model"
    bad = api("sessions/dequeue", "session_id=c1", "message_id=msg_nope")
    assert bad.returncode != 0 and "[message_not_found]" in bad.stderr and "Traceback" not in bad.stderr


async def test_steer_falls_back_visibly_when_not_native(stdio_client: SandboxAgent) -> None:
    s = await stdio_client.create_session("mock", env={"MOCK_STEER": "off"})
    turn = await s.send("slow 30")
    await collect(s, 0, lambda e: e.type == "item.delta")
    r = await s.deliver("stop, use the other API", delivery="steer")
    assert r.outcome == "steered" and r.native is False and r.turn_id != turn
    events = await collect(s, 0, turn_end(r.turn_id))
    steered = next(e for e in events if e.type == "message.steered")
    assert steered.data.fallback == "interrupt_then_send" and steered.data.interrupted_turn_id == turn
    first_end = next(e for e in events if e.type == "turn.ended" and e.data.turn_id == turn)
    assert first_end.data.stop_reason == "interrupted" and first_end.sequence > steered.sequence
    assert replies(events)[-1] == "You said: stop, use the other API"
