"""The contract: pydantic models of events, items, content parts, method params/results and error kinds.

Models are declared with `defer_build=True`: pydantic builds a model's validator and serializer on its first use
instead of at import, which takes ~50 ms of CPU and ~1.6 MB off the daemon's start (docs/decisions.md, issue 13).
"""

from .agents import AgentCapabilities, AgentInfo
from .content import ContentPart, InputPart
from .errors import ERROR_CODES, ErrorKind
from .events import EVENT_DATA, UniversalEvent, events_json_schema, universal_event_adapter
from .items import UniversalItem

__all__ = [
    "ERROR_CODES",
    "EVENT_DATA",
    "AgentCapabilities",
    "AgentInfo",
    "ContentPart",
    "ErrorKind",
    "InputPart",
    "UniversalEvent",
    "UniversalItem",
    "events_json_schema",
    "universal_event_adapter",
]
