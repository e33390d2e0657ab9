"""What every process adapter does with its agent's output: decode stdout lines, and report the exit."""

from __future__ import annotations

from typing import Any

import orjson

from ..rpc.framing import Line, OversizedLine
from ..schema.events import AgentUnparsedData, SessionEndedData
from .base import EventSink
from .emission import OpenItems
from .process import StderrCapture


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


def report_exit(sink: EventSink, items: OpenItems, stderr: StderrCapture, code: int, clean: bool, who: str) -> None:
    """The agent process is gone: close the items it left open, then end the session with its exit code and
    stderr (`clean` = an exit the adapter asked for or expected)."""
    for e in items.fail_all():
        sink.emit(e.type, e.data, synthetic=True)
    sink.emit(
        "session.ended",
        SessionEndedData(
            reason="completed" if clean else "error",
            terminated_by="agent",
            message=None if clean else f"{who} exited with code {code}",
            exit_code=code,
            stderr=stderr.summary(),
        ),
    )
