"""Atomic file writes inside the roots: a temp file next to the target, renamed over it when complete.

Readers see the old file or the new one, never half. Before the rename the parent directory is resolved again
from its root: if it is no longer the directory we wrote into (a symlink was swapped in on the path), the write
is refused and the temp file removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat

from ..rpc.errors import AppError
from ..schema.errors import ErrorKind
from .roots import FsRoots, fs_errors, outside

DEFAULT_MODE = 0o644


class AtomicWriter:
    """Write in pieces, then `commit()`; `abort()` (or an exception) leaves the target untouched."""

    def __init__(self, roots: FsRoots, path: str, create_dirs: bool = False, mode: int | None = None) -> None:
        self.roots = roots
        self.path = path
        self.size = 0
        self.loc = roots.locate(path, follow=True)
        if self.loc.is_root:
            raise AppError(ErrorKind.FS_ERROR, f"{path!r} is a directory", path=path)
        with fs_errors(path):
            self.dir_fd = roots.open_parent(self.loc, create=create_dirs)
        try:
            with fs_errors(path):
                self._dir_id = _identity(os.fstat(self.dir_fd))
                existing = _lstat(self.loc.name, self.dir_fd)
                if existing is not None and stat.S_ISDIR(existing.st_mode):
                    raise AppError(ErrorKind.FS_ERROR, f"{path!r} is a directory", path=path)
                if mode is None:
                    keep = existing is not None and stat.S_ISREG(existing.st_mode)
                    mode = stat.S_IMODE(existing.st_mode) if keep and existing else DEFAULT_MODE
                self.tmp = f".{self.loc.name[:100]}.{secrets.token_hex(6)}.tmp"
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                self.fd = os.open(self.tmp, flags, 0o600, dir_fd=self.dir_fd)
                os.fchmod(self.fd, mode)  # exactly the asked bits, whatever the umask
        except BaseException:
            os.close(self.dir_fd)
            raise
        self._open = True

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        with fs_errors(self.path):
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
                self.size += n

    def commit(self) -> None:
        try:
            with fs_errors(self.path):
                os.fsync(self.fd)
                os.close(self.fd)
                self._open = False
                self._check_still_inside()
                os.rename(self.tmp, self.loc.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        except BaseException:
            self.abort()
            raise
        os.close(self.dir_fd)
        self.dir_fd = -1

    def _check_still_inside(self) -> None:
        again = self.roots.locate(self.path, follow=True)  # raises if the path now leads outside
        fd = self.roots.open_parent(again)
        try:
            same = _identity(os.fstat(fd)) == self._dir_id and again.name == self.loc.name
        finally:
            os.close(fd)
        if not same:
            raise outside(self.path, "a directory on the path was replaced during the write")
        target = _lstat(self.loc.name, self.dir_fd)
        if target is not None and stat.S_ISLNK(target.st_mode):
            raise outside(self.path, "the target became a symlink during the write")

    def abort(self) -> None:
        if self._open:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self._open = False
        if self.dir_fd >= 0:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp, dir_fd=self.dir_fd)
            os.close(self.dir_fd)
            self.dir_fd = -1


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
