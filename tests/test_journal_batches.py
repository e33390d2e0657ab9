"""The journal's batch writes: one statement per chunk, records alongside, duplicates ignored, from either thread."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from sandbox_agent.sessions import journal as journal_mod
from sandbox_agent.sessions.journal import CHUNK_ROWS, Journal


def _body(sid: str, seq: int) -> bytes:
    return orjson.dumps({"session_id": sid, "sequence": seq, "pad": "x" * (seq % 700)})


def test_batches_of_every_size_commit_whole_and_in_order(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    seq = 0
    sizes = [1, 2, CHUNK_ROWS - 1, CHUNK_ROWS, CHUNK_ROWS + 1, 3 * CHUNK_ROWS + 7]
    for size in sizes:
        rows = [("s", seq + i + 1, "item.delta", _body("s", seq + i + 1)) for i in range(size)]
        assert j._commit(rows, {}) and j.error is None
        seq += size
    # a batch with a session record goes through BEGIN ... COMMIT, in chunks
    rows = [("t", i + 1, "item.delta", _body("t", i + 1)) for i in range(2 * CHUNK_ROWS + 5)]
    assert j._commit(rows, {"t": orjson.dumps({"session_id": "t"})})
    # a repeated row (a retry after a failure that did commit) is ignored, not an error
    assert j._commit([("s", 1, "item.delta", b"other")], {})
    got = j.read_events("s", 0, 10_000, 10_000)
    assert [orjson.loads(b)["sequence"] for b in got] == list(range(1, seq + 1))
    assert got[0] == _body("s", 1)
    assert j.session("t") == ({"session_id": "t"}, 2 * CHUNK_ROWS + 5)
    j.close()


def test_a_failed_batch_commits_nothing_and_is_retried(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    good = ("s", 1, "item.delta", _body("s", 1))
    bad = ("s", 2, "item.delta", object())  # cannot be bound: the statement fails as a whole
    assert not j._commit([good, bad], {})
    assert j.error is not None
    assert j.read_events("s", 0, 10, 10) == [], "the good row did not land alone"
    assert j._commit([good], {}) and j.error is None
    assert j.read_events("s", 0, 10, 10) == [good[3]]
    j.close()


@pytest.mark.anyio
async def test_the_writer_thread_commits_big_batches_while_the_loop_is_busy(tmp_path: Path) -> None:
    """Batches above the inline limit go to the writer thread; every event becomes visible, in order."""
    j = Journal(tmp_path / "j.db")
    seen: list[int] = []
    n = journal_mod.INLINE_MAX_ROWS * 3 + 1
    for seq in range(1, n + 1):
        j.add_event("s", seq, "item.delta", _body("s", seq), seen.append)
    deadline = asyncio.get_running_loop().time() + 10
    while (not seen or seen[-1] != n) and asyncio.get_running_loop().time() < deadline:
        sum(i * i for i in range(20_000))  # keep the loop thread busy, as a daemon under load is
        await asyncio.sleep(0)
    assert seen and seen[-1] == n
    assert j._thread is not None, "the batch went to the writer thread"
    assert len(j.read_events("s", 0, n, n)) == n
    j.close()
