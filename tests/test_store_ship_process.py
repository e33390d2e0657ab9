"""The shipper runs in a child of the daemon: it ships, it is started again when it dies, it ends with the daemon."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psycopg
import pytest

from sandbox_agent.client import SandboxAgent
from sandbox_agent.store.ship_process import MODULE, ShipperProcess
from tests.pg_helpers import pg, store_url  # noqa: F401 - fixtures
from tests.test_store import all_events, wait_shipped
from tests.test_store_shipper import journal

pytestmark = pytest.mark.anyio
OK = "2026-11-30T10:00:01.000Z"


def shipper_pids(journal_path: Path) -> list[int]:
    """Processes running the shipper module for this journal (its path is in their argv; the URL never is)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if MODULE.encode() in argv and str(journal_path).encode() in argv:
            out.append(int(entry.name))
    return out


def wait_for(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stored_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


async def test_the_daemon_ships_from_a_child_that_ends_with_it(server_factory, tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    state = tmp_path / "state"
    srv = server_factory(state_dir=state, extra=["--store", store_url])
    client = await SandboxAgent.connect(srv.url, srv.token, reconnect=False)
    s = await client.create_session("mock", session_id="ses_child")
    await s.prompt("everything")
    wait_shipped(srv)
    local = await all_events(client, "ses_child")
    assert stored_count(store_url) == len(local)
    children = shipper_pids(state / "journal.sqlite3")
    assert len(children) == 1 and children[0] != srv.proc.pid
    assert store_url.encode() not in (Path("/proc") / str(children[0]) / "cmdline").read_bytes()
    await client.close()
    srv.kill9()
    # the pipe from the dead daemon ends: the child saves its watermark and exits instead of lingering
    wait_for(lambda: not shipper_pids(state / "journal.sqlite3"), timeout=15)


def test_a_shipper_process_that_dies_is_started_again(tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    path = tmp_path / "journal.sqlite3"
    journal(path, [("a", n, OK) for n in range(1, 6)])
    shipper = ShipperProcess(store_url, path)
    shipper.start()
    try:
        wait_for(lambda: shipper.state == "ok" and shipper.status()["lag_rows"] == 0 and shipper.watermark == 5)
        first = wait_for(lambda: shipper_pids(path))
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: shipper.restarts == 1)
        import sqlite3

        import orjson

        db = sqlite3.connect(str(path))  # the daemon's journal goes on growing meanwhile
        for n in range(6, 9):
            body = {"event_id": f"ea{n}", "sequence": n, "time": OK, "session_id": "a", "type": "error", "data": {}}
            db.execute("INSERT INTO events(session_id, seq, type, body) VALUES (?, ?, ?, ?)",
                       ("a", n, "error", orjson.dumps(body)))
        db.commit()
        db.close()
        assert shipper.status()["lag_rows"] >= 3, "rows the child has not shipped count at once"
        wait_for(lambda: shipper.state == "ok" and shipper.status()["lag_rows"] == 0)
        second = shipper_pids(path)
        assert second and second != first
        assert stored_count(store_url) == 8
    finally:
        shipper.stop(1)
    assert shipper.state == "stopped"
    wait_for(lambda: not shipper_pids(path), timeout=5)


def test_a_shipper_process_that_cannot_start_leaves_shipping_to_a_thread(tmp_path, store_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from sandbox_agent.store import ship_process

    path = tmp_path / "journal.sqlite3"
    journal(path, [("a", n, OK) for n in range(1, 4)])
    real = ship_process.child_command
    monkeypatch.setattr(ship_process, "child_command", lambda p: (["/bin/false"], real(p)[1]))  # dies at once
    shipper = ShipperProcess(store_url, path)
    shipper.start()
    try:
        wait_for(lambda: shipper.restarts >= 2 and shipper.state == "down")  # started again, with backoff
        wait_for(lambda: shipper.state == "ok" and shipper.watermark == 3, timeout=30)  # then the in-process thread
        assert stored_count(store_url) == 3
    finally:
        shipper.stop(1)
