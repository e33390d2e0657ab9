"""A session that exists only in the store is found by the session-control methods and the in-process MCP backend."""

from __future__ import annotations

import contextlib

import pytest

from sandbox_agent.mcp.backend import InProcessBackend
from sandbox_agent.rpc.errors import AppError
from sandbox_agent.server.api import api
from sandbox_agent.server.client_context import ClientContext
from sandbox_agent.server.daemon import Daemon
from tests.pg_helpers import pg, store_url  # noqa: F401 - fixtures
from tests.test_store_restore import _two_turns_then_lose_the_sandbox

pytestmark = pytest.mark.anyio


async def test_control_methods_and_in_process_mcp_find_a_store_only_session(server_factory, tmp_path, store_url) -> None:  # type: ignore[no-untyped-def]  # noqa: F811,E501
    before = await _two_turns_then_lose_the_sandbox(server_factory, tmp_path, store_url)  # ses_moved, store only
    daemon = Daemon(state_dir=tmp_path / "state_b", store_url=store_url, listen_socket=False)
    await daemon.start()
    try:
        ctx = ClientContext(daemon, None)
        assert not daemon.sessions.known("ses_moved")
        queue = await api.call("sessions/queue", {"session_id": "ses_moved"}, ctx)  # a control method
        assert queue.session_id == "ses_moved" and queue.messages == []
        assert daemon.sessions.known("ses_moved"), "imported into this daemon's journal on first use"
        with pytest.raises(AppError) as missing:
            await api.call("sessions/queue", {"session_id": "ses_nowhere"}, ctx)
        assert missing.value.kind == "session_not_found"

        daemon_c = Daemon(state_dir=tmp_path / "state_c", store_url=store_url, listen_socket=False)
        await daemon_c.start()  # another fresh daemon: the MCP facade's own event stream imports it too
        try:
            seen = []
            async with contextlib.aclosing(InProcessBackend(daemon_c).events("ses_moved", 0)) as events:
                async for event in events:
                    seen.append(event)
            assert seen[: len(before)] == before and seen[-1]["type"] == "session.ended"
        finally:
            await daemon_c.stop()
    finally:
        await daemon.stop()
