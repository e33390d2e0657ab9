"""Timestamps and ids for events."""

from __future__ import annotations

import os
from datetime import UTC, datetime


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id(prefix: str) -> str:
    return prefix + os.urandom(8).hex()
