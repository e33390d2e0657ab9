"""Decoding one line of an agent's NDJSON stdout, the same way for every adapter."""

from __future__ import annotations

from typing import Any

import orjson

from ..rpc.framing import Line, OversizedLine
from ..schema.events import AgentUnparsedData
from .base import EventSink


def decode_line(line: Line, sink: EventSink) -> dict[str, Any] | None:
    """The JSON object on this line, or None after reporting why there is none as `agent.unparsed`."""
    if isinstance(line, OversizedLine):
        sink.emit("agent.unparsed", AgentUnparsedData(error=f"{line.size}-byte line dropped", location="stdout"))
        return None
    try:
        msg = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        sink.emit("agent.unparsed", AgentUnparsedData(error=str(exc), location="stdout"))
        return None
    if not isinstance(msg, dict):
        sink.emit("agent.unparsed", AgentUnparsedData(error="not a JSON object", location="stdout"))
        return None
    return msg
