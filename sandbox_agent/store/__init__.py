"""Transcripts outside the sandbox: a PostgreSQL store fed from the local journal, readable without a daemon.

`Store(url)` reads sessions and events; the daemon's `Shipper` (started by `--store`) writes them. psycopg is
imported only when a store is used.
"""

from __future__ import annotations

from .reader import Store, StoredSession, StoreError, Transcript

__all__ = ["Store", "StoreError", "StoredSession", "Transcript"]
