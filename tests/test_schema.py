"""The contract: models validate what they should, reject what they should, and docs/ matches them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from sandbox_agent.docs_export import documents
from sandbox_agent.schema.content import ImagePart
from sandbox_agent.schema.events import EVENT_DATA, universal_event_adapter
from sandbox_agent.schema.methods import McpServerConfig, SendMessageParams, SessionCreateParams

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("name", ["events.schema.json", "openrpc.json"])
def test_checked_in_contract_files_are_current(name: str) -> None:
    expected = documents()[name]
    actual = (DOCS / name).read_text()
    assert actual == expected, f"docs/{name} is stale: run `python -m sandbox_agent.docs_export docs`"


def test_event_schema_covers_every_event_type() -> None:
    schema = json.loads(documents()["events.schema.json"])
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == set(EVENT_DATA)


def test_event_round_trip_and_rejections() -> None:
    ev = {
        "event_id": "e1",
        "sequence": 3,
        "time": "2026-01-01T00:00:00.000Z",
        "session_id": "s",
        "source": "agent",
        "type": "item.delta",
        "data": {"item_id": "i", "delta": "hi"},
    }
    parsed = universal_event_adapter.validate_python(ev)
    assert parsed.data.delta == "hi"  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        universal_event_adapter.validate_python({**ev, "type": "item.exploded"})
    with pytest.raises(ValidationError):
        universal_event_adapter.validate_python({**ev, "sequence": 0})
    with pytest.raises(ValidationError):
        universal_event_adapter.validate_python({**ev, "data": {"item_id": "i"}})


def test_message_needs_exactly_one_body() -> None:
    assert SendMessageParams(session_id="s", message="hi").parts()[0].text == "hi"  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        SendMessageParams(session_id="s")
    with pytest.raises(ValidationError):
        SendMessageParams(session_id="s", message="a", content=[{"type": "text", "text": "b"}])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        SendMessageParams(session_id="s", content=[])


def test_content_parts_check_their_sources() -> None:
    with pytest.raises(ValidationError):
        ImagePart(mime="image/png")
    with pytest.raises(ValidationError):
        McpServerConfig(name="x")
    with pytest.raises(ValidationError):
        SessionCreateParams(agent="mock", session_id="../etc/passwd")
    with pytest.raises(ValidationError):
        SessionCreateParams(agent="mock", permission_mode="yolo")  # type: ignore[arg-type]
