"""`sandbox-agent status [--json]`: a running daemon on one screen.

The daemon side (`collect`) answers the `ops/status` method from live state; the client side (`fetch`) asks
the state dir's daemon over its unix socket (never starting one) or a server over HTTP, and `render` prints
the summary for people.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import orjson

from .. import __version__
from ..schema.ops import RunningTurn, StatusResult
from ..schema.usage import UsageTotals
from .stats import STATS, store_status
from .usage import ledger_of


def collect(daemon: Any) -> StatusResult:
    manager = daemon.sessions
    by_status: dict[str, int] = {}
    by_agent: dict[str, int] = {}
    permissions = questions = subscribers = lag = 0
    running: list[RunningTurn] = []
    usage = UsageTotals()
    now = time.monotonic()
    for s in manager.list():
        agent = s.record.agent
        by_status[s.status] = by_status.get(s.status, 0) + 1
        by_agent[agent] = by_agent.get(agent, 0) + 1
        permissions += len(s.hitl.permissions)
        questions += len(s.hitl.questions)
        subscribers += len(s.log.subscribers)
        for sub in s.log.subscribers:
            lag = max(lag, s.log.visible_seq - sub.cursor)
        if s.current_turn is not None:
            t0 = getattr(s, "_turn_t0", 0.0)
            since = round(now - t0, 1) if t0 else None
            running.append(RunningTurn(session_id=s.session_id, agent=agent, turn_id=s.current_turn, running_s=since))
        usage.merge(ledger_of(s).totals)
    ended: dict[str, int] = {}
    for (_, reason), n in STATS.turns_ended.items():
        ended[reason] = ended.get(reason, 0) + n
    oldest = STATS.oldest_open_request_s() if permissions or questions else None
    return StatusResult(
        version=__version__,
        pid=os.getpid(),
        uptime_s=round(time.time() - getattr(daemon, "started_at", STATS.started_at), 1),
        address=dict(getattr(daemon, "address", {}) or {}),
        clients=getattr(daemon, "clients", None),
        journal=daemon.journal_status(),
        store=store_status(daemon),
        sessions=sum(by_status.values()),
        sessions_by_status=by_status,
        sessions_by_agent=by_agent,
        pending_permissions=permissions,
        pending_questions=questions,
        oldest_pending_s=round(oldest, 1) if oldest is not None else None,
        subscribers=subscribers,
        max_subscriber_lag=lag,
        turns_started=sum(STATS.turns_started.values()),
        turns_ended=ended,
        running_turns=sorted(running, key=lambda t: -(t.running_s or 0)),
        usage=usage,
        agents=[
            {"id": i.id, "installed": i.installed, "version": i.version}
            for i in (d.info() for d in daemon.registry.drivers.values())
        ],
    )


# the client side


class StatusError(Exception):
    """No daemon to ask, or it did not answer."""


async def _over_socket(state_dir: Path) -> dict[str, Any]:
    from ..statedir import AttachFailed, attach, is_owned

    if not is_owned(state_dir):
        raise StatusError(f"no daemon is running in {state_dir}")
    try:
        reader, writer = await attach(state_dir, start=False, timeout=5)
    except (AttachFailed, OSError) as exc:
        raise StatusError(f"the daemon in {state_dir} does not answer: {exc}") from None
    try:
        writer.write(orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "ops/status", "params": {}}) + b"\n")
        await writer.drain()
        while True:
            line = await asyncio.wait_for(reader.readline(), 10)
            if not line:
                raise StatusError("the daemon closed the connection")
            msg = orjson.loads(line)
            if isinstance(msg, dict) and msg.get("id") == 1:
                result = _result(msg)
                if isinstance(result.get("clients"), int):
                    result["clients"] = max(0, result["clients"] - 1)  # not counting this query's own connection
                return result
    except TimeoutError:
        raise StatusError(f"the daemon in {state_dir} did not answer within 10 s") from None
    finally:
        writer.close()


def _result(msg: dict[str, Any]) -> dict[str, Any]:
    if "error" in msg:
        raise StatusError(f"ops/status: {msg['error'].get('message')}")
    return msg["result"]


def fetch(state_dir: Path | None, endpoint: str | None, token: str | None) -> dict[str, Any]:
    """The daemon's status: from `endpoint` over HTTP when given, else from the state dir's socket."""
    if endpoint:
        import httpx

        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = {"jsonrpc": "2.0", "id": 1, "method": "ops/status", "params": {}}
        try:
            reply = httpx.post(endpoint.rstrip("/") + "/v1/rpc", json=body, headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            raise StatusError(f"cannot reach {endpoint}: {exc}") from None
        if reply.status_code == 401:
            raise StatusError(f"{endpoint}: missing or wrong token (--token or SANDBOX_AGENT_TOKEN)")
        return _result(reply.json())
    assert state_dir is not None
    return asyncio.run(_over_socket(state_dir))


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m {s % 60}s"
    return f"{s // 3600}h {s % 3600 // 60}m"


def _count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    return f"{n / 1e3:.1f}k" if n >= 10_000 else str(n)


def _parts(table: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(table.items(), key=lambda kv: -kv[1]))


def render(st: dict[str, Any], max_running: int = 5) -> str:
    """One screen for people."""
    lines = [
        f"sandbox-agent {st['version']}: pid {st['pid']}, up {_duration(st['uptime_s'])}"
        + (f", {st['clients']} client(s) attached" if st.get("clients") is not None else "")
    ]
    where = "  ".join(f"{k} {v}" for k, v in (st.get("address") or {}).items())
    if where:
        lines.append(f"  listening  {where}")
    store = st.get("store")
    shipped = ""
    if store:
        lag, age = store.get("lag_rows"), store.get("lag_seconds")
        shipped = f"; store {store.get('state')}, outbox lag {lag} events ({age} s)"
    lines.append(f"  journal    {st['journal']}{shipped}")
    lines.append(f"  sessions   {st['sessions']}" + (f": {_parts(st['sessions_by_status'])}" if st["sessions"] else ""))
    agents = ", ".join(
        f"{a['id']}{' ' + a['version'] if a.get('version') else ''}"
        + (f" ({st['sessions_by_agent'][a['id']]} sessions)" if a["id"] in st["sessions_by_agent"] else "")
        for a in st["agents"]
        if a.get("installed") or a["id"] in st["sessions_by_agent"]
    )
    lines.append(f"  agents     {agents or 'none installed'}")
    waiting = f"{st['pending_permissions']} permission(s), {st['pending_questions']} question(s)"
    if st.get("oldest_pending_s") is not None:
        waiting += f", oldest waiting {_duration(st['oldest_pending_s'])}"
    lines.append(f"  pending    {waiting}")
    behind = st["max_subscriber_lag"]
    lines.append(f"  streaming  {st['subscribers']} subscriber(s), furthest behind by {behind} events")
    ended = st["turns_ended"]
    turns = f"{st['turns_started']} started, {sum(ended.values())} ended"
    lines.append(f"  turns      {turns}" + (f" ({_parts(ended)})" if ended else ""))
    u = st["usage"]
    usage = (
        f"{_count(u['input_tokens'])} input ({_count(u['cached_input_tokens'])} cached), "
        f"{_count(u['output_tokens'])} output tokens over {u['turns']} turns"
    )
    if u.get("total_cost_usd") is not None:
        usage += f", ${u['total_cost_usd']:.2f}"
    lines.append(f"  usage      {usage}")
    for t in st["running_turns"][:max_running]:
        age = f" for {_duration(t['running_s'])}" if t.get("running_s") is not None else ""
        lines.append(f"  running    {t['session_id']} ({t['agent']}) {t['turn_id']}{age}")
    more = len(st["running_turns"]) - max_running
    if more > 0:
        lines.append(f"             and {more} more")
    return "\n".join(lines)
