"""Confinement of file paths to the daemon's roots.

A path is resolved twice: by name (realpath, which must land inside a root) and then by directory file
descriptors, opening each component from the root with O_NOFOLLOW. The second walk refuses any symlink that
appeared after the first, so a link swapped in while we work can never lead outside.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ..rpc.errors import AppError
from ..schema.errors import ErrorKind

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def outside(path: str, why: str) -> AppError:
    return AppError(ErrorKind.PATH_OUTSIDE_ROOTS, f"{path!r} is outside the file roots: {why}", path=path)


@dataclass(frozen=True)
class Location:
    """A confined path: the root it lies in, the directories from there to its parent, and its own name."""

    given: str
    root: str
    parents: tuple[str, ...]
    name: str  # "" when the path is the root itself

    @property
    def real(self) -> str:
        return os.path.join(self.root, *self.parents, self.name) if self.name else self.root

    @property
    def is_root(self) -> bool:
        return not self.name


class FsRoots:
    """The directories the file API may touch: fixed ones plus, optionally, each session's cwd."""

    def __init__(self, fixed: Iterable[str], extra: Callable[[], Iterable[str]] | None = None) -> None:
        self._fixed = [os.path.realpath(r) for r in fixed]
        self._extra = extra

    def roots(self) -> list[str]:
        found = list(self._fixed)
        if self._extra is not None:
            found += [os.path.realpath(r) for r in self._extra()]
        return [r for i, r in enumerate(found) if r not in found[:i] and os.path.isdir(r)]

    def locate(self, path: str, follow: bool = True) -> Location:
        """Where `path` lies; `follow=False` leaves a final symlink unresolved (to delete or move the link)."""
        if "\x00" in path:
            raise AppError(ErrorKind.FS_ERROR, "a path cannot contain NUL bytes", path=path)
        if ".." in path.split("/"):
            raise outside(path, "'..' is not allowed")
        roots = self.roots()
        if not roots:
            raise outside(path, "the daemon has no file roots")
        joined = os.path.normpath(os.path.join(roots[0], path))
        if follow:
            real = os.path.realpath(joined)
        else:
            head, name = os.path.split(joined)
            real = os.path.join(os.path.realpath(head), name) if name else os.path.realpath(joined)
        best = max((r for r in roots if real == r or real.startswith(r.rstrip("/") + "/")), key=len, default=None)
        if best is None:
            why = "it resolves through a symlink to " + real if real != joined else "not under any root"
            raise outside(path, why)
        rest = [p for p in real[len(best) :].split("/") if p]
        if not rest:
            return Location(path, best, (), "")
        return Location(path, best, tuple(rest[:-1]), rest[-1])

    def open_parent(self, loc: Location, create: bool = False) -> int:
        """A directory fd for the parent of `loc`, reached from its root without following any symlink."""
        fd = os.open(loc.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        for part in loc.parents:
            try:
                child = _step(fd, part, loc.given, create)
            finally:
                os.close(fd)
            fd = child
        return fd

    def open_dir(self, loc: Location, create: bool = False) -> int:
        """A directory fd for `loc` itself (the root, or a directory inside it)."""
        fd = self.open_parent(loc, create)
        if loc.is_root:
            return fd
        try:
            return _step(fd, loc.name, loc.given, create)
        finally:
            os.close(fd)


def _step(parent: int, name: str, given: str, create: bool) -> int:
    """Open `name` under `parent` as a directory; a symlink there is an escape attempt."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o755, dir_fd=parent)
        return _step(parent, name, given, False)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise outside(given, f"{name!r} became a symlink while resolving") from None
            raise AppError(ErrorKind.FS_ERROR, f"{name!r} in {given!r} is not a directory", path=given) from None
        raise


@contextlib.contextmanager
def fs_errors(path: str) -> Iterator[None]:
    """OS errors as the API's error kinds, naming the path the client gave."""
    try:
        yield
    except FileNotFoundError:
        raise AppError(ErrorKind.FILE_NOT_FOUND, f"{path!r} does not exist", path=path) from None
    except FileExistsError:
        raise AppError(ErrorKind.FILE_EXISTS, f"{path!r} already exists", path=path) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise outside(path, "a symlink appeared on the path") from None
        code = errno.errorcode.get(exc.errno or 0, "EIO")
        raise AppError(
            ErrorKind.FS_ERROR, f"{path!r}: {exc.strerror or exc}", path=path, errno=code
        ) from None
