"""Tar uploads: every member checked before anything is written, then extracted with tarfile's `data` filter.

On top of the filter, links are checked within the archive itself: no member may pass through a symlink the same
archive creates, and link targets must stay inside by plain path arithmetic. That closes the link-chain tricks
behind the 2025 tarfile filter CVEs on Pythons older than 3.11.13 / 3.12.11, which still ship in sandboxes.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from typing import IO

from ..rpc.errors import AppError
from ..schema.errors import ErrorKind
from ..schema.fs import FsUploadResult
from .roots import FsRoots, fs_errors, outside

MAX_UPLOAD_EXPANDED = 2 * 1024**3  # a tar that inflates past this is refused before anything is written
MAX_MEMBER_PATH = 1024

# tarfile's extraction filters arrived in CPython 3.11.4 (Debian 12 ships 3.11.2): the daemon must still start
# there, and tar upload then says what it needs instead of extracting without the filter.
_ESCAPES = tuple(
    getattr(tarfile, name)
    for name in ("AbsolutePathError", "AbsoluteLinkError", "OutsideDestinationError", "LinkOutsideDestinationError")
    if hasattr(tarfile, name)
)


class _NoFilterError(Exception):
    pass


_FILTER_ERROR: type[Exception] = getattr(tarfile, "FilterError", _NoFilterError)


def upload_tar(roots: FsRoots, path: str, archive: bytes | IO[bytes]) -> FsUploadResult:
    fileobj = io.BytesIO(archive) if isinstance(archive, bytes) else archive
    loc = roots.locate(path)
    with fs_errors(path):
        os.close(roots.open_dir(loc, create=True))
    dest = loc.real
    if not hasattr(tarfile, "data_filter"):
        raise AppError(
            ErrorKind.NOT_SUPPORTED,
            "tar upload needs Python 3.11.4 or newer (tarfile's data filter); upload files one by one instead",
            path=path,
        )
    try:
        tar = tarfile.open(fileobj=fileobj, mode="r:*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise AppError(ErrorKind.FS_ERROR, f"not a readable tar archive: {exc}", path=path) from None
    with tar:
        try:
            members = tar.getmembers()
            _check_links(members, path)
            kept = [m for m in (tarfile.data_filter(m, dest) for m in members) if m is not None]
            total = sum(m.size for m in kept if m.isfile())
            if total > MAX_UPLOAD_EXPANDED:
                msg = f"the archive expands to {total} bytes"
                raise AppError(ErrorKind.LIMIT_EXCEEDED, msg, limit=MAX_UPLOAD_EXPANDED)
            with fs_errors(path):
                tar.extractall(dest, members=kept, filter="data")
        except _ESCAPES as exc:
            raise outside(path, f"an archive member escapes the destination ({exc})") from None
        except _FILTER_ERROR as exc:
            raise AppError(ErrorKind.FS_ERROR, f"unsafe archive member: {exc}", path=path) from None
        except (tarfile.TarError, EOFError) as exc:
            raise AppError(ErrorKind.FS_ERROR, f"corrupt tar archive: {exc}", path=path) from None
    return FsUploadResult(
        path=dest,
        files=sum(1 for m in kept if m.isfile()),
        directories=sum(1 for m in kept if m.isdir()),
        bytes=total,
    )


def _check_links(members: list[tarfile.TarInfo], path: str) -> None:
    links: set[str] = set()
    for m in members:
        name = posixpath.normpath(m.name.lstrip("/"))
        if len(name) > MAX_MEMBER_PATH:
            raise AppError(ErrorKind.FS_ERROR, f"archive member name over {MAX_MEMBER_PATH} bytes", path=path)
        if name == ".." or name.startswith("../"):
            raise outside(path, f"archive member {m.name!r} leaves the destination")
        parts = name.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in links:
                raise outside(path, f"archive member {m.name!r} goes through a link in the same archive")
        if m.issym() or m.islnk():
            base = posixpath.dirname(name) if m.issym() else ""
            target = posixpath.normpath(posixpath.join(base, m.linkname))
            if posixpath.isabs(m.linkname) or target == ".." or target.startswith("../"):
                raise outside(path, f"archive link {m.name!r} points outside ({m.linkname!r})")
            links.add(name)
