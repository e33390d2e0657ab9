"""Usage and cost: each translator reports one turn's usage in one meaning (on real captures), the per-session
ledger sums and backfills it, and `sessions/usage` aggregates it across sessions of a real daemon."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from sandbox_agent.agents.amp.translator import AmpTranslator
from sandbox_agent.agents.claude.translator import ClaudeTranslator
from sandbox_agent.agents.codex.translator import CodexTranslator
from sandbox_agent.agents.emission import Emission
from sandbox_agent.agents.opencode.translator import OpenCodeTranslator
from sandbox_agent.ops.usage import UsageLedger, aggregate, ledger_of
from sandbox_agent.schema.events import Usage
from sandbox_agent.schema.usage import UsageParams, UsageTotals
from tests.pg_helpers import pg, store_url  # noqa: F401 - fixtures

FIXTURES = Path(__file__).parent / "fixtures"


def _ids() -> Any:
    counter = itertools.count()
    return lambda prefix: f"{prefix}{next(counter)}"


def usages(out: list[Emission]) -> list[Usage | None]:
    return [e.data.usage for e in out if e.type == "turn.ended"]  # type: ignore[attr-defined]


def claude_turns(name: str) -> list[Usage | None]:
    t = ClaudeTranslator(_ids())
    turns = itertools.count(1)
    t.turn_id = f"turn_{next(turns)}"
    out: list[Emission] = []
    for line in (FIXTURES / "claude" / name).read_text().splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and "type" in msg:
            out.extend(t.translate(msg))
            if msg["type"] == "result":
                t.turn_id = f"turn_{next(turns)}"
    return usages(out)


def codex_turns(name: str) -> list[Usage | None]:
    t = CodexTranslator(_ids())
    turns = itertools.count(1)
    out: list[Emission] = []
    for line in (FIXTURES / "codex" / name).read_text().splitlines():
        rec = json.loads(line)
        msg = rec.get("msg")
        if rec.get("dir") == "out" and isinstance(msg, dict) and msg.get("method") == "turn/start":
            t.turn_id = f"turn_{next(turns)}"
        if rec.get("dir") == "in" and isinstance(msg, dict) and "method" in msg and "id" not in msg:
            out.extend(t.translate(msg["method"], msg.get("params") or {}))
    return usages(out)


def amp_turns(name: str) -> list[Usage | None]:
    t = AmpTranslator(_ids())
    turns = itertools.count(1)
    out: list[Emission] = []
    for line in (FIXTURES / "amp" / name).read_text().splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if t.turn_id is None and msg.get("type") == "user" and not _tool_results(msg):
            t.turn_id = f"turn_{next(turns)}"
        out.extend(t.translate(msg))
    return usages(out)


def _tool_results(msg: dict[str, Any]) -> bool:
    content = (msg.get("message") or {}).get("content")
    return isinstance(content, list) and any(c.get("type") == "tool_result" for c in content if isinstance(c, dict))


def opencode_turns(name: str) -> list[Usage | None]:
    t = OpenCodeTranslator(_ids())
    turns = itertools.count(1)
    out: list[Emission] = []
    for line in (FIXTURES / "opencode" / name).read_text().splitlines():
        event = json.loads(line).get("event") or {}
        event = event.get("payload", event)
        if t.turn_id is None and event.get("type") == "session.status":
            t.turn_id = f"turn_{next(turns)}"
        out.extend(t.translate(event))
    return usages(out)


def test_claude_reports_each_turns_cost_not_the_running_total() -> None:
    turns = claude_turns("exp2_multiturn__out.jsonl")
    assert [u.input_tokens for u in turns if u] == [19464, 39096, 19628]
    costs = [u.total_cost_usd for u in turns if u]
    # the result lines say 0.09762, 0.29425, 0.392715: running totals of the process
    assert costs == pytest.approx([0.09762, 0.29425 - 0.09762, 0.392715 - 0.29425])
    assert sum(costs) == pytest.approx(0.392715)
    assert {u.model for u in turns if u} == {"claude-opus-4-8"}  # the main loop's model, from its messages


def test_claude_counts_cache_reads_and_writes_as_input() -> None:
    t = ClaudeTranslator(_ids())
    t.turn_id = "turn_1"
    usage = {"input_tokens": 10, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 50, "output_tokens": 7}
    out = t.translate({"type": "result", "subtype": "success", "usage": usage, "total_cost_usd": 0.5})
    (u,) = usages(out)
    assert u is not None
    assert (u.input_tokens, u.cached_input_tokens, u.output_tokens, u.total_cost_usd) == (1060, 1000, 7, 0.5)


def test_claude_cost_after_a_resume_starts_again() -> None:
    """A resumed process starts its running total from zero (captures exp7_resume p1, p2)."""
    first = claude_turns("exp7_resume__p1.jsonl")
    second = claude_turns("exp7_resume__p2.jsonl")
    assert first[0] and first[0].total_cost_usd == pytest.approx(0.09767)
    assert second[0] and second[0].total_cost_usd == pytest.approx(0.09785)


def test_codex_turn_usage_is_the_growth_of_the_thread_total() -> None:
    # two model calls of 100 in / 10 out in one tool turn; `last` alone said 100 / 10
    (u,) = codex_turns("appserver_basic_toolcall.jsonl")
    assert u is not None and (u.input_tokens, u.output_tokens) == (200, 20)
    assert [(u.input_tokens, u.output_tokens) for u in codex_turns("appserver_multiturn_resume_A.jsonl") if u] == [
        (200, 20),
        (100, 10),
    ]
    # after thread/resume the app-server replays the old total (330) before the turn: a baseline, not usage
    assert [(u.input_tokens, u.output_tokens) for u in codex_turns("appserver_multiturn_resume_B.jsonl") if u] == [
        (100, 10)
    ]


def test_amp_sums_every_model_call_of_a_turn() -> None:
    assert [(u.input_tokens, u.output_tokens) for u in amp_turns("stream_json_tool_turn_shell_command.jsonl") if u] == [
        (24, 14)
    ]
    assert [(u.input_tokens, u.output_tokens) for u in amp_turns("stream_C1_stream_json_input_3turns.jsonl") if u] == [
        (20, 10),
        (20, 10),
        (10, 5),
    ]


def test_opencode_sums_steps_and_counts_cache_as_input() -> None:
    turns = [u for u in opencode_turns("perm_once.jsonl") if u]
    assert [(u.input_tokens, u.output_tokens, u.model) for u in turns] == [(200, 40, "fake-model")]
    t = OpenCodeTranslator(_ids())
    t.turn_id = "turn_1"
    tokens = {"input": 5, "output": 3, "reasoning": 2, "cache": {"read": 90, "write": 4}}
    step = {"type": "step-finish", "tokens": tokens}
    for part_id in ("p1", "p2"):
        t.translate({"type": "message.part.updated", "properties": {"part": {**step, "id": part_id, "cost": 0.25}}})
    (u,) = usages(t.translate({"type": "session.idle", "properties": {}}))
    assert u is not None
    assert (u.input_tokens, u.cached_input_tokens, u.output_tokens, u.reasoning_tokens) == (198, 180, 6, 4)
    assert u.total_cost_usd == pytest.approx(0.5)


# the ledger and the aggregation, on stand-in sessions


class FakeLog:
    """The two things a ledger reads from an EventLog."""

    def __init__(self, bodies: list[bytes]) -> None:
        self.bodies = bodies

    @property
    def visible_seq(self) -> int:
        return len(self.bodies)

    def read(self, after: int, limit: int) -> list[bytes]:
        return self.bodies[after : after + limit]


class FakeRecord:
    def __init__(self, session_id: str, agent: str, model: str | None) -> None:
        self.session_id, self.agent, self.model = session_id, agent, model


class FakeSession:
    def __init__(self, session_id: str, agent: str, model: str | None, log: FakeLog, ledger: Any = None) -> None:
        self.record = FakeRecord(session_id, agent, model)
        self.log = log
        if ledger is not None:
            self.usage = ledger


def event(seq: int, type_: str, data: dict[str, Any], at: datetime) -> bytes:
    return orjson.dumps(
        {"sequence": seq, "type": type_, "time": at.isoformat().replace("+00:00", "Z"), "data": data}
    )


def transcript(turns: list[tuple[datetime, dict[str, Any] | None]]) -> list[bytes]:
    out: list[bytes] = []
    for i, (at, usage) in enumerate(turns):
        out.append(event(len(out) + 1, "turn.started", {"turn_id": f"t{i}"}, at))
        out.append(event(len(out) + 1, "item.delta", {"item_id": "x", "delta": '"type":"turn.ended" in text'}, at))
        data: dict[str, Any] = {"turn_id": f"t{i}", "stop_reason": "end_turn"}
        if usage is not None:
            data["usage"] = usage
        out.append(event(len(out) + 1, "turn.ended", data, at))
    return out


T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_restored_ledger_backfills_from_the_log_then_trusts_the_hook() -> None:
    bodies = transcript(
        [
            (T0, {"input_tokens": 10, "output_tokens": 2, "total_cost_usd": 0.01}),
            (T0 + timedelta(hours=1), None),  # an interrupted turn without usage
            (T0 + timedelta(hours=2), {"input_tokens": 5, "output_tokens": 1, "cached_input_tokens": 3}),
        ]
    )
    log = FakeLog(bodies)
    ledger = UsageLedger(backfill_upto=len(bodies))
    ledger.add(Usage(input_tokens=1, output_tokens=1, total_cost_usd=0.5), at=(T0 + timedelta(hours=3)).timestamp())
    session = FakeSession("s", "claude", None, log, ledger)
    totals = ledger_of(session).totals
    assert (totals.turns, totals.input_tokens, totals.output_tokens, totals.cached_input_tokens) == (3, 16, 4, 3)
    assert totals.total_cost_usd == pytest.approx(0.51)
    assert [at for at, _ in ledger.turns] == sorted(at for at, _ in ledger.turns), "restored turns come first"
    log.bodies = [*bodies, *transcript([(T0, {"input_tokens": 999})])]  # the hook owns new turns: no rescan
    assert ledger_of(session).totals.input_tokens == 16


def test_an_unhooked_ledger_catches_up_on_every_read() -> None:
    log = FakeLog(transcript([(T0, {"input_tokens": 10, "output_tokens": 2})]))
    session = FakeSession("s", "mock", None, log)
    assert ledger_of(session).totals.input_tokens == 10
    log.bodies = [*log.bodies, *transcript([(T0, {"input_tokens": 7})])]
    assert ledger_of(session).totals.input_tokens == 17
    assert ledger_of(session).totals.turns == 2


def test_aggregate_by_agent_model_session_and_since() -> None:
    a = FakeSession(
        "a", "claude", "opus", FakeLog(transcript([(T0, {"input_tokens": 10, "total_cost_usd": 0.25})]))
    )
    b = FakeSession(
        "b",
        "codex",
        None,
        FakeLog(
            transcript(
                [(T0, {"input_tokens": 100, "reasoning_tokens": 4}), (T0 + timedelta(days=1), {"input_tokens": 1})]
            )
        ),
    )
    everything = aggregate([a, b], UsageParams())
    assert everything.total.input_tokens == 111 and everything.total.turns == 3
    assert everything.total.total_cost_usd == pytest.approx(0.25)
    assert everything.by_agent["codex"].reasoning_tokens == 4 and everything.by_agent["codex"].total_cost_usd is None
    assert set(everything.by_model) == {"opus", "default"}
    assert [s.session_id for s in everything.sessions] == ["a", "b"]
    assert aggregate([a, b], UsageParams(agent="claude")).total.input_tokens == 10
    assert aggregate([a, b], UsageParams(session_id="b")).total.input_tokens == 101
    later = aggregate([a, b], UsageParams(since=T0 + timedelta(hours=1)))
    assert later.total.input_tokens == 1 and later.total.turns == 1


def test_totals_keep_cost_null_until_some_turn_reports_one() -> None:
    t = UsageTotals()
    t.add(Usage(input_tokens=3))
    assert t.total_cost_usd is None
    t.add(Usage(input_tokens=3, total_cost_usd=0.0))
    assert t.total_cost_usd == 0.0 and t.input_tokens == 6


# real agents against the scripted fake providers (every fake model call reports 12 input / 7 output tokens)

AGENTS: dict[str, dict[str, Any]] = {
    "claude": {
        "env": lambda url: {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "sk-fake-test"},
        "tool": {"tool": "Bash", "input": {"command": "echo hi", "description": "say hi"}},
    },
    "codex": {
        "env": lambda url: {"OPENAI_BASE_URL": url + "/v1", "OPENAI_API_KEY": "sk-fake-test"},
        "model": "fake-model",
        "tool": {"tool": "exec_command", "input": {"cmd": "echo hi"}},
        "tool_turn": (24, 14),
    },
    "opencode": {
        "env": lambda url: {"OPENAI_BASE_URL": url + "/v1", "OPENAI_API_KEY": "sk-fake-test"},
        "model": "fake-model",
        "tool": {"tool": "bash", "input": {"command": "echo hi", "description": "say hi"}},
    },
    "amp": {
        "env": lambda url: {"AMP_URL": url, "AMP_API_KEY": "sk-fake-test"},
        "tool": {"tool": "Bash", "input": {"cmd": "echo hi"}},
        "tool_turn": (24, 14),
    },
}


@pytest.mark.real_agent
@pytest.mark.anyio
@pytest.mark.parametrize("agent", list(AGENTS))
async def test_usage_totals_match_the_turns_of_a_real_agent(agent: str, server: Any, tmp_path: Path) -> None:
    from sandbox_agent.client import SandboxAgent
    from sandbox_agent.install import Installer
    from sandbox_agent.testing import FakeLLM

    spec = AGENTS[agent]
    await Installer().install(agent)
    async with (
        FakeLLM([spec["tool"], {"text": "done"}, {"text": "second"}]) as fake,
        await SandboxAgent.connect(server.url, server.token) as client,
    ):
        options: dict[str, Any] = {"cwd": str(tmp_path), "permission_mode": "bypass", "env": spec["env"](fake.url)}
        if "model" in spec:
            options["model"] = spec["model"]
        session = await client.create_session(agent, **options)
        first = await session.prompt("run it", timeout=120)
        second = await session.prompt("again", timeout=120)
        assert (first.text, second.text) == ("done", "second")
        info = await session.get()
        events, _, _ = await client.read_events(session.id, 0, 1000)
        by_agent = await client.call("sessions/usage", {"agent": agent})
        everything = await client.call("sessions/usage", {})
        await session.terminate()

    turns = [e.data.usage for e in events if e.type == "turn.ended"]  # type: ignore[union-attr]
    assert len(turns) == 2 and all(u is not None and u.input_tokens and u.output_tokens for u in turns)
    expected = UsageTotals()
    for u in turns:
        expected.add(u)  # type: ignore[arg-type]
    assert info.usage == expected
    assert UsageTotals.model_validate(by_agent["total"]) == expected
    assert UsageTotals.model_validate(everything["by_agent"][agent]) == expected
    assert [s["session_id"] for s in by_agent["sessions"]] == [session.id]
    if "tool_turn" in spec:  # two model calls in the tool turn, one in the text turn
        assert (turns[0].input_tokens, turns[0].output_tokens) == spec["tool_turn"]  # type: ignore[union-attr]
        assert (turns[1].input_tokens, turns[1].output_tokens) == (12, 7)  # type: ignore[union-attr]
    if agent == "claude":
        assert expected.total_cost_usd is not None and expected.total_cost_usd > 0
    if agent in ("claude", "opencode"):  # they name the model of each turn
        named = {u.model for u in turns}  # type: ignore[union-attr]
        assert len(named) == 1 and None not in named
        assert set(everything["by_model"]) >= named
    else:
        assert "fake-model" in everything["by_model"] or "default" in everything["by_model"]


def test_mock_usage_survives_a_daemon_restart(server_factory: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    server = server_factory(state_dir=state)
    server.rpc("sessions/create", {"agent": "mock", "session_id": "m1"})
    for message in ("hello there", "tool look it up", "one two three four"):
        assert "result" in server.rpc("sessions/prompt", {"session_id": "m1", "message": message, "timeout": 30})
    before = server.rpc("sessions/get", {"session_id": "m1"})["result"]["usage"]
    events = server.rpc("sessions/events", {"session_id": "m1", "limit": 1000})["result"]["events"]
    turns = [e["data"]["usage"] for e in events if e["type"] == "turn.ended"]
    # the mock's made-up usage: 10 + words of the message in, 5 out
    assert [(u["input_tokens"], u["output_tokens"]) for u in turns] == [(12, 5), (14, 5), (14, 5)]
    assert (before["turns"], before["input_tokens"], before["output_tokens"]) == (3, 40, 15)
    cut = datetime.now(UTC)
    server.kill9()

    again = server_factory(state_dir=state)
    assert again.rpc("sessions/get", {"session_id": "m1"})["result"]["usage"] == before
    assert "result" in again.rpc("sessions/resume", {"session_id": "m1"})
    assert "result" in again.rpc("sessions/prompt", {"session_id": "m1", "message": "after", "timeout": 30})
    after = again.rpc("sessions/usage", {"session_id": "m1"})["result"]
    assert (after["total"]["turns"], after["total"]["input_tokens"]) == (4, 51)
    recent = again.rpc("sessions/usage", {"since": cut.isoformat()})["result"]
    assert (recent["total"]["turns"], recent["total"]["input_tokens"]) == (1, 11)
    bad = again.rpc("sessions/usage", {"since": "yesterday"})
    assert bad["error"]["code"] == -32602
    missing = again.rpc("sessions/usage", {"session_id": "nope"})
    assert missing["error"]["data"]["kind"] == "session_not_found"


def _wait_shipped(server: Any, timeout: float = 30.0) -> None:
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        store = httpx.get(server.url + "/v1/health", timeout=5).json().get("store") or {}
        if store.get("state") == "ok" and store.get("lag_rows") == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the store did not catch up")


def test_usage_counts_sessions_only_the_store_holds(server_factory: Any, tmp_path: Path, store_url: str) -> None:  # noqa: F811
    first = server_factory(state_dir=tmp_path / "a", extra=["--store", store_url])
    first.rpc("sessions/create", {"agent": "mock", "session_id": "old"})
    for message in ("one two", "three"):
        assert "result" in first.rpc("sessions/prompt", {"session_id": "old", "message": message, "timeout": 30})
    _wait_shipped(first)
    first.stop()
    cut = datetime.now(UTC)

    second = server_factory(state_dir=tmp_path / "b", extra=["--store", store_url])
    second.rpc("sessions/create", {"agent": "mock", "session_id": "new"})
    assert "result" in second.rpc("sessions/prompt", {"session_id": "new", "message": "four", "timeout": 30})
    result = second.rpc("sessions/usage", {})["result"]
    assert result["store_error"] is None
    rows = {s["session_id"]: s["usage"] for s in result["sessions"]}
    assert set(rows) == {"old", "new"}
    assert (rows["old"]["turns"], rows["old"]["input_tokens"], rows["old"]["output_tokens"]) == (2, 23, 10)
    assert (rows["new"]["turns"], rows["new"]["input_tokens"]) == (1, 11)
    assert result["total"]["input_tokens"] == 34 and result["by_agent"]["mock"]["turns"] == 3
    only_old = second.rpc("sessions/usage", {"session_id": "old"})["result"]
    assert [s["session_id"] for s in only_old["sessions"]] == ["old"]
    recent = second.rpc("sessions/usage", {"since": cut.isoformat()})["result"]
    assert [s["session_id"] for s in recent["sessions"] if s["usage"]["turns"]] == ["new"]
    assert second.rpc("sessions/usage", {"session_id": "nowhere"})["error"]["data"]["kind"] == "session_not_found"
    # imported on a miss, the old session carries its usage, and the totals do not count it twice
    imported = second.rpc("sessions/get", {"session_id": "old"})["result"]
    assert (imported["usage"]["turns"], imported["usage"]["input_tokens"]) == (2, 23)
    again = second.rpc("sessions/usage", {})["result"]
    assert again["total"] == result["total"] and len(again["sessions"]) == 2
    # the store's outbox in /v1/metrics and ops/status
    import httpx

    _wait_shipped(second)
    text = httpx.get(second.url + "/v1/metrics", headers=second.headers(), timeout=10).text
    assert "sandbox_agent_store_up 1.0" in text and "sandbox_agent_store_outbox_lag_events 0.0" in text
    store = second.rpc("ops/status")["result"]["store"]
    assert (store["state"], store["lag_rows"]) == ("ok", 0)


@pytest.mark.anyio
async def test_the_sdk_reads_usage_and_status(ws_client: Any) -> None:
    session = await ws_client.create_session("mock")
    await session.prompt("hello")
    usage = await ws_client.usage(agent="mock")
    assert (usage.total.turns, usage.total.input_tokens, usage.total.output_tokens) == (1, 11, 5)
    assert usage.sessions[0].session_id == session.id
    later = await ws_client.usage(since=datetime.now(UTC) + timedelta(minutes=1))
    assert later.total.turns == 0
    status = await ws_client.status()
    assert status.sessions == 1 and status.usage.input_tokens == 11 and status.turns_started >= 1
