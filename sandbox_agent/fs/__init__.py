"""Files inside the daemon's roots: confinement, atomic writes and the `fs/*` operations."""

from .atomic import AtomicWriter
from .roots import FsRoots, Location

__all__ = ["AtomicWriter", "FsRoots", "Location"]
