"""Subscriptions under concurrency: replay after an offset, then live, none missing, none twice.

Hypothesis drives random interleavings of emits, subscribes from random offsets, slow and fast subscribers,
disconnects and overflows against the real EventLog, Subscription and SQLite journal.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox_agent.sessions import event_log as event_log_module
from sandbox_agent.sessions.event_log import EventLog
from sandbox_agent.sessions.journal import Journal
from sandbox_agent.sessions.subscription import Subscription


@dataclass
class Subscriber:
    offset: int
    delay: float
    got: list[int] = field(default_factory=list)
    closed: tuple[str, int] | None = None
    sub: Subscription | None = None
    cancelled: bool = False


def body(seq: int) -> bytes:
    return b'{"sequence":%d}' % seq


ops = st.lists(
    st.one_of(
        st.tuples(st.just("emit"), st.integers(1, 40)),
        st.tuples(
            st.just("subscribe"),
            st.floats(0, 1),
            st.sampled_from([0.0, 0.0, 0.0005, 0.002]),
            st.sampled_from([3, 50, 10_000]),
        ),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("tick"), st.integers(0, 3)),
    ),
    min_size=1,
    max_size=40,
)


async def scenario(operations: list, journal: Journal | None) -> None:
    log = EventLog("s", journal)
    finished = False
    subs: list[Subscriber] = []

    def make(offset: int, delay: float, max_lag: int) -> Subscriber:
        s = Subscriber(offset, delay)

        async def deliver(_: str, bodies: list[bytes]) -> None:
            if s.delay:
                await asyncio.sleep(s.delay)
            s.got.extend(int(b[12:-1]) for b in bodies)

        async def closed(_: str, reason: str, resume: int) -> None:
            s.closed = (reason, resume)

        s.sub = Subscription(log, offset, deliver, closed, lambda: finished, max_lag=max_lag)
        s.sub.start()
        return s

    for op in operations:
        if op[0] == "emit":
            for _ in range(op[1]):
                seq = log.last_seq + 1
                log.append(seq, "x", body(seq))
        elif op[0] == "subscribe":
            subs.append(make(int(op[1] * log.last_seq), op[2], op[3]))
        elif op[0] == "cancel" and subs:
            target = subs[op[1] % len(subs)]
            target.cancelled = True
            await target.sub.cancel()  # type: ignore[union-attr]
        elif op[0] == "tick":
            for _ in range(op[1]):
                await asyncio.sleep(0)
    finished = True
    log.close_subscribers()
    pending = [s.sub._task for s in subs if s.sub and s.sub._task and not s.cancelled]  # type: ignore[union-attr]
    await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 30)
    if journal is not None:
        journal.flush()

    last = log.last_seq
    for s in subs:
        expected_start = s.offset + 1
        assert s.got == list(range(expected_start, expected_start + len(s.got))), "in order, no gap, no duplicate"
        if s.cancelled:
            continue
        assert s.closed is not None
        reason, resume = s.closed
        assert resume == s.offset + len(s.got)
        if reason == "session_ended":
            assert s.got[-1:] == [last] or (not s.got and s.offset == last)
        else:
            assert reason == "overflow"
            # the client resumes from its offset and gets exactly the rest
            rest = make(resume, 0.0, 10_000)
            await asyncio.wait_for(rest.sub._task, 30)  # type: ignore[union-attr,arg-type]
            assert rest.got == list(range(resume + 1, last + 1))
    # readers see the same log
    assert [int(b[12:-1]) for b in log.read(0, 100_000)] == list(range(1, last + 1))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=ops, seed=st.integers(0, 2**16))
def test_subscriptions_in_memory(operations: list, seed: int) -> None:
    random.seed(seed)
    asyncio.run(scenario(operations, None))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(operations=ops)
def test_subscriptions_with_journal_and_tiny_memory_window(
    operations: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a window of 4 events forces lagging readers through the SQLite journal
    monkeypatch.setattr(event_log_module, "MEMORY_WINDOW", 4)

    async def run() -> None:
        journal = Journal(tmp_path / f"j{random.random()}.sqlite3")
        try:
            await scenario(operations, journal)
        finally:
            journal.close()

    asyncio.run(run())


def test_durable_before_delivery(tmp_path: Path) -> None:
    """A subscriber never sees an event that is not yet committed to the journal."""

    async def run() -> None:
        journal = Journal(tmp_path / "j.sqlite3")
        log = EventLog("s", journal)
        seen: list[int] = []

        async def deliver(_: str, bodies: list[bytes]) -> None:
            for b in bodies:
                seq = int(b[12:-1])
                stored = journal.read_events("s", seq - 1, 1, seq)
                assert stored == [b], "delivered before it was durable"
                seen.append(seq)

        async def closed(*_: object) -> None:
            pass

        sub = Subscription(log, 0, deliver, closed, lambda: False)
        sub.start()
        for i in range(1, 201):
            log.append(i, "x", body(i))
            if i % 7 == 0:
                await asyncio.sleep(0)
        while len(seen) < 200:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await sub.cancel()
        assert journal.commits < 200, "events are committed in groups, not one by one"
        journal.close()

    asyncio.run(run())
