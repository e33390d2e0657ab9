"""`GET /v1/metrics` of a real server, parsed with prometheus-client's own parser, checked against the journal."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox_agent.install import Installer
from sandbox_agent.testing import FakeLLM

from .conftest import ServerProcess


def scrape(server: ServerProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as {(name, sorted labels): value}."""
    reply = httpx.get(server.url + "/v1/metrics", headers=server.headers(), timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(reply.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: dict[Any, float], name: str, **labels: str) -> float:
    """Sum over every label set that includes `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def journal_events(state: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{state / 'journal.sqlite3'}?mode=ro", uri=True)
    try:
        return [orjson.loads(body) for (body,) in db.execute("SELECT body FROM events ORDER BY id")]
    finally:
        db.close()


def ok(reply: dict[str, Any]) -> Any:
    assert "error" not in reply, reply
    return reply["result"]


def wait_for(server: ServerProcess, session_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = ok(server.rpc("sessions/get", {"session_id": session_id}))
        if info["status"] == status:
            return info
        time.sleep(0.05)
    raise AssertionError(f"{session_id} never became {status}")


def test_no_metrics_without_the_token(server: ServerProcess) -> None:
    assert httpx.get(server.url + "/v1/metrics", timeout=10).status_code == 401
    wrong = {"authorization": "Bearer not-the-token"}
    assert httpx.get(server.url + "/v1/metrics", headers=wrong, timeout=10).status_code == 401
    assert httpx.get(server.url + "/v1/health", timeout=10).status_code == 200
    assert value(scrape(server), "sandbox_agent_info", version=ok(server.rpc("initialize"))["server_info"]["version"])


def test_metrics_off_means_no_endpoint(server_factory, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SANDBOX_AGENT_METRICS", "off")
    server = server_factory()
    reply = httpx.get(server.url + "/v1/metrics", headers=server.headers(), timeout=10)
    assert reply.status_code == 404 and "SANDBOX_AGENT_METRICS" in reply.text


def test_counters_match_the_journal_after_a_mock_workload(server: ServerProcess) -> None:
    sessions = ["plain", "tools", "hitl", "crashy", "streamed"]
    for sid in sessions:
        ok(server.rpc("sessions/create", {"agent": "mock", "session_id": sid}))
    for message in ("hello", "tool find it", "file notes.md", "command ls", "everything", "error boom"):
        ok(server.rpc("sessions/prompt", {"session_id": "tools", "message": message, "timeout": 30}))
    for n in range(5):
        ok(server.rpc("sessions/prompt", {"session_id": "plain", "message": f"hi {n}", "timeout": 30}))
    # a permission answered, a question rejected: two waits in the HITL histogram
    ok(server.rpc("sessions/send_message", {"session_id": "hitl", "message": "permission notes.md"}))
    info = wait_for(server, "hitl", "awaiting_input")
    scraped = scrape(server)
    assert value(scraped, "sandbox_agent_hitl_pending", kind="permission") == 1
    assert value(scraped, "sandbox_agent_sessions", agent="mock", status="awaiting_input") == 1
    permission = info["pending_permissions"][0]["permission_id"]
    ok(server.rpc("permissions/reply", {"session_id": "hitl", "permission_id": permission, "reply": "once"}))
    wait_for(server, "hitl", "idle")
    ok(server.rpc("sessions/send_message", {"session_id": "hitl", "message": "question colour?"}))
    info = wait_for(server, "hitl", "awaiting_input")
    question = info["pending_questions"][0]["question_id"]
    ok(server.rpc("questions/reject", {"session_id": "hitl", "question_id": question}))
    wait_for(server, "hitl", "idle")
    # an agent that dies mid-turn
    ok(server.rpc("sessions/send_message", {"session_id": "crashy", "message": "crash"}))
    wait_for(server, "crashy", "ended")
    # the next message restarts it (auto-resume): a restart in agent_starts_total{resumed="true"}
    ok(server.rpc("sessions/prompt", {"session_id": "crashy", "message": "back again", "timeout": 30}))
    # one subscriber reads a whole transcript over SSE (replay, then the stream closes at session.ended)
    ok(server.rpc("sessions/prompt", {"session_id": "streamed", "message": "reasoning", "timeout": 30}))
    ok(server.rpc("sessions/terminate", {"session_id": "streamed"}))
    sse = httpx.get(server.url + "/v1/sessions/streamed/events/sse?offset=0", headers=server.headers(), timeout=30)
    streamed = sum(1 for line in sse.text.splitlines() if line.startswith("id: "))

    scraped = scrape(server)
    events = journal_events(server.state_dir)
    types = Counter(e["type"] for e in events)
    listed = ok(server.rpc("sessions/list"))

    assert streamed == sum(1 for e in events if e["session_id"] == "streamed") > 5
    assert value(scraped, "sandbox_agent_events_delivered_total") == streamed
    assert value(scraped, "sandbox_agent_journal_events_total") == len(events)
    assert value(scraped, "sandbox_agent_session_events", agent="mock") == len(events)
    assert sum(s["event_count"] for s in listed) == len(events)
    assert value(scraped, "sandbox_agent_journal_commit_seconds_count") >= 1
    by_status = Counter(s["status"] for s in listed)
    for status, n in by_status.items():
        assert value(scraped, "sandbox_agent_sessions", agent="mock", status=status) == n
    assert total(scraped, "sandbox_agent_sessions") == len(sessions)

    assert value(scraped, "sandbox_agent_turns_started_total", agent="mock") == types["turn.started"]
    reasons = Counter(e["data"].get("stop_reason", "none") for e in events if e["type"] == "turn.ended")
    assert reasons["error"] >= 2  # the scripted error and the crash
    for reason, n in reasons.items():
        assert value(scraped, "sandbox_agent_turns_ended_total", agent="mock", stop_reason=reason) == n
    assert value(scraped, "sandbox_agent_turn_duration_seconds_count", agent="mock") == types["turn.ended"]
    usages = [e["data"]["usage"] for e in events if e["type"] == "turn.ended" and "usage" in e["data"]]
    assert len(usages) >= 10
    for kind in ("input", "output"):
        expected = sum(u[f"{kind}_tokens"] for u in usages)
        assert value(scraped, "sandbox_agent_tokens_total", agent="mock", model="default", kind=kind) == expected
    assert value(scraped, "sandbox_agent_turn_duration_seconds_bucket", agent="mock", le="+Inf") == types["turn.ended"]

    assert value(scraped, "sandbox_agent_hitl_requests_total", kind="permission") == types["permission.requested"] == 1
    assert value(scraped, "sandbox_agent_hitl_requests_total", kind="question") == types["question.requested"] == 1
    assert value(scraped, "sandbox_agent_hitl_wait_seconds_count", kind="permission", outcome="accept") == 1
    assert value(scraped, "sandbox_agent_hitl_wait_seconds_count", kind="question", outcome="rejected") == 1
    assert total(scraped, "sandbox_agent_hitl_pending") == 0

    assert value(scraped, "sandbox_agent_agent_starts_total", agent="mock", resumed="false") == len(sessions)
    assert value(scraped, "sandbox_agent_agent_starts_total", agent="mock", resumed="true") == 1
    assert value(scraped, "sandbox_agent_agent_crashes_total", agent="mock") == 1
    ended = [e["data"] for e in events if e["type"] == "session.ended"]
    assert sum(1 for d in ended if d["reason"] == "error" and d["terminated_by"] == "agent") == 1
    assert value(scraped, "sandbox_agent_process_resident_memory_bytes") > 0


@pytest.mark.real_agent
def test_tokens_and_cost_of_a_real_claude_turn(server: ServerProcess, tmp_path: Path) -> None:
    import asyncio

    asyncio.run(Installer().install("claude"))

    async def run() -> None:
        async with FakeLLM([{"text": "first"}, {"text": "second"}]) as fake:
            env = {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake-metrics-test"}
            params = {"agent": "claude", "session_id": "c1", "cwd": str(tmp_path), "env": env}
            params["permission_mode"] = "bypass"
            await asyncio.to_thread(lambda: ok(server.rpc("sessions/create", params)))
            for message in ("one", "two"):
                body = {"session_id": "c1", "message": message, "timeout": 90}
                reply = await asyncio.to_thread(lambda b=body: httpx.post(
                    server.url + "/v1/rpc",
                    json={"jsonrpc": "2.0", "id": 1, "method": "sessions/prompt", "params": b},
                    headers=server.headers(),
                    timeout=120,
                ).json())
                assert ok(reply)["stop_reason"] == "end_turn"

    asyncio.run(run())
    scraped = scrape(server)
    usages = [e["data"]["usage"] for e in journal_events(server.state_dir) if e["type"] == "turn.ended"]
    assert len(usages) == 2 and all(u.get("output_tokens") for u in usages)
    for kind, key in (("input", "input_tokens"), ("output", "output_tokens"), ("cached_input", "cached_input_tokens")):
        expected = sum(u.get(key) or 0 for u in usages)
        assert total(scraped, "sandbox_agent_tokens_total", agent="claude", kind=kind) == expected
    cost = sum(u.get("total_cost_usd") or 0 for u in usages)
    assert cost > 0
    assert total(scraped, "sandbox_agent_cost_usd_total", agent="claude") == pytest.approx(cost)
    assert value(scraped, "sandbox_agent_turns_ended_total", agent="claude", stop_reason="end_turn") == 2
    session = ok(server.rpc("sessions/get", {"session_id": "c1"}))
    assert session["usage"]["turns"] == 2
    assert session["usage"]["total_cost_usd"] == pytest.approx(cost)


def status_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox_agent", "status", *args], capture_output=True, text=True, timeout=60
    )


def test_status_on_one_screen_and_as_json(server: ServerProcess, tmp_path: Path) -> None:
    ok(server.rpc("sessions/create", {"agent": "mock", "session_id": "waiting"}))
    ok(server.rpc("sessions/prompt", {"session_id": "waiting", "message": "hello there", "timeout": 30}))
    ok(server.rpc("sessions/send_message", {"session_id": "waiting", "message": "permission x.txt"}))
    wait_for(server, "waiting", "awaiting_input")

    shown = status_cli("--state-dir", str(server.state_dir))  # over the state dir's socket
    assert shown.returncode == 0, shown.stderr
    screen = shown.stdout
    assert len(screen.splitlines()) <= 24
    assert "sessions   1: 1 awaiting_input" in screen
    assert "pending    1 permission(s), 0 question(s), oldest waiting" in screen
    assert "running    waiting (mock) turn_" in screen
    assert "usage      12 input (0 cached), 5 output tokens over 1 turns" in screen

    as_json = status_cli("--endpoint", server.url, "--token", server.token or "", "--json")  # over HTTP
    assert as_json.returncode == 0, as_json.stderr
    st = json.loads(as_json.stdout)
    assert st["running"] is True and st["pending_permissions"] == 1 and st["sessions_by_agent"] == {"mock": 1}
    assert st["running_turns"][0]["session_id"] == "waiting" and st["journal"] == "ok"
    assert st["usage"]["input_tokens"] == 12 and st["turns_started"] == 2
    assert any(a["id"] == "mock" for a in st["agents"])

    refused = status_cli("--endpoint", server.url)
    assert refused.returncode == 3 and "token" in refused.stderr
    nobody = status_cli("--state-dir", str(tmp_path / "empty"), "--json")
    assert nobody.returncode == 3 and json.loads(nobody.stdout)["running"] is False


@pytest.mark.anyio
async def test_a_failed_install_is_timed_and_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox_agent.ops.metrics import render
    from sandbox_agent.ops.stats import STATS
    from sandbox_agent.rpc.errors import RpcError

    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")  # nothing listens there: fails fast, offline
    monkeypatch.setenv("npm_config_prefer_online", "true")
    before = STATS.install_seconds.get(("amp", "error"))
    count = before.count if before is not None else 0
    with pytest.raises(RpcError):
        await Installer(tmp_path / "agents").install("amp")

    class NoDaemon:
        pass

    text = render(NoDaemon())[0].decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    key = ("sandbox_agent_install_duration_seconds_count", (("agent", "amp"), ("outcome", "error")))
    assert samples[key] == count + 1
    assert samples[("sandbox_agent_install_duration_seconds_sum", key[1])] > 0


def _socket_peers(pid: int) -> list[str]:
    """Remote addresses of the process's TCP sockets (from /proc: no tools needed)."""
    import os as _os

    inodes = set()
    for fd in _os.listdir(f"/proc/{pid}/fd"):
        try:
            target = _os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    peers = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                peers.append(fields[2])  # rem_address, hex ip:port
    return peers


def _loopback_or_unset(hex_addr: str) -> bool:
    ip = hex_addr.split(":")[0]
    if len(ip) == 8:  # IPv4, bytes little-endian: 0100007F is 127.0.0.1
        return ip == "00000000" or int(ip[6:8], 16) == 127
    if ip in ("0" * 32, "00000000000000000000000001000000"):  # :: and ::1
        return True
    return ip.startswith("0000000000000000FFFF0000") and int(ip[30:32], 16) == 127  # ::ffff:127.x.x.x


def test_the_daemon_never_phones_home(server: ServerProcess) -> None:
    """After start-up and a workload (sessions, turns, a scrape, status), every TCP socket of the daemon is a
    listener or a loopback connection: nothing reaches out."""
    ok(server.rpc("sessions/create", {"agent": "mock", "session_id": "quiet"}))
    for message in ("hello", "tool x", "error y"):
        ok(server.rpc("sessions/prompt", {"session_id": "quiet", "message": message, "timeout": 30}))
    scrape(server)
    ok(server.rpc("ops/status"))
    time.sleep(1.0)
    assert server.proc is not None
    peers = _socket_peers(server.proc.pid)
    assert peers, "the daemon's own listening socket is visible"
    assert all(_loopback_or_unset(p) for p in peers), peers


@pytest.mark.anyio
async def test_a_lagging_subscriber_is_counted_as_an_overflow() -> None:
    import asyncio

    from sandbox_agent.ops.stats import STATS
    from sandbox_agent.sessions.event_log import EventLog
    from sandbox_agent.sessions.subscription import Subscription

    log = EventLog("s", None)
    gate = asyncio.Event()
    closed: list[str] = []

    async def deliver(_: str, bodies: list[bytes]) -> None:
        await gate.wait()  # a client that stopped reading

    async def on_closed(_: str, reason: str, resume_offset: int) -> None:
        closed.append(reason)

    before_overflows, before_delivered = STATS.subscription_overflows, STATS.events_delivered
    sub = Subscription(log, 0, deliver, on_closed, lambda: False, max_lag=5)
    sub.start()
    log.append(1, "item.delta", b"{}")
    await asyncio.sleep(0.01)  # the first batch is stuck in deliver
    for seq in range(2, 20):
        log.append(seq, "item.delta", b"{}")
    for _ in range(100):
        if closed:
            break
        await asyncio.sleep(0.01)
    # cut off while it is still stalled, not only once it reads again; its stuck batch never counted
    assert closed == ["overflow"] and not gate.is_set()
    assert STATS.subscription_overflows == before_overflows + 1
    assert STATS.events_delivered == before_delivered
    assert not log.subscribers
