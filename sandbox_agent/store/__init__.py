"""Transcripts outside the sandbox: a PostgreSQL store fed from the local journal, readable without a daemon.

`Store(url)` reads sessions and events; the daemon's `Shipper` (started by `--store`) writes them. Nothing here
is imported until used (the CLI builds its parser from `store.cli` on every start), and psycopg only on connect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .reader import Store, StoredSession, StoreError, Transcript

__all__ = ["Store", "StoreError", "StoredSession", "Transcript"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import reader

        return getattr(reader, name)
    raise AttributeError(name)
