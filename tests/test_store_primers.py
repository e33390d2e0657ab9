"""A session restored by replay sends that replay with its next message, even across a daemon restart in between."""

from __future__ import annotations

import orjson
import psycopg
import pytest

from sandbox_agent.client import SandboxAgent
from sandbox_agent.store.primers import PRIMERS_FILE
from tests.pg_helpers import pg, store_url  # noqa: F401 - fixtures
from tests.test_store_restore import _two_turns_then_lose_the_sandbox

pytestmark = pytest.mark.anyio


def _no_snapshots(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM snapshots")  # so the restore takes the replay path


@pytest.mark.parametrize("how", ["kill9", "stop"])
async def test_a_restart_between_resume_and_the_next_message_keeps_the_replay(  # type: ignore[no-untyped-def]
    server_factory, tmp_path, store_url, how  # noqa: F811
) -> None:
    await _two_turns_then_lose_the_sandbox(server_factory, tmp_path, store_url)
    _no_snapshots(store_url)
    state_b = tmp_path / "state_b"
    srv_b = server_factory(state_dir=state_b, extra=["--store", store_url])
    client = await SandboxAgent.connect(srv_b.url, srv_b.token, reconnect=False)
    await client.call("sessions/resume", {"session_id": "ses_moved", "replay": {"max_chars": 20_000}})
    await client.close()
    assert "ses_moved" in orjson.loads((state_b / PRIMERS_FILE).read_bytes())
    srv_b.kill9() if how == "kill9" else srv_b.stop()

    srv_b2 = server_factory(state_dir=state_b, extra=["--store", store_url])  # the same sandbox, restarted
    client = await SandboxAgent.connect(srv_b2.url, srv_b2.token, reconnect=False)
    result = await client.session("ses_moved").prompt("what did we talk about?")
    # the mock echoes what it was sent: the replay first, then the new message
    assert "<transcript>" in result.text and "remember the word pelican" in result.text, result.text
    assert result.text.rstrip().endswith("what did we talk about?")
    again = await client.session("ses_moved").prompt("and now?")
    assert "<transcript>" not in again.text, "the replay goes out once"
    assert "ses_moved" not in orjson.loads((state_b / PRIMERS_FILE).read_bytes())
    await client.close()


async def test_a_store_only_session_prompted_without_resume_gets_the_replay_with_that_message(  # type: ignore[no-untyped-def]
    server_factory, tmp_path, store_url  # noqa: F811
) -> None:
    await _two_turns_then_lose_the_sandbox(server_factory, tmp_path, store_url)
    _no_snapshots(store_url)
    srv_b = server_factory(state_dir=tmp_path / "state_b", extra=["--store", store_url])
    client = await SandboxAgent.connect(srv_b.url, srv_b.token, reconnect=False)
    result = await client.session("ses_moved").prompt("what did we talk about?")  # imports, resumes, sends
    assert "<transcript>" in result.text and "tool lighthouse" in result.text, result.text
    assert result.text.rstrip().endswith("what did we talk about?")
    await client.close()
