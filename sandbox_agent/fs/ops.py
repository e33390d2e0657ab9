"""The file operations behind `fs/*`: blocking calls on directory fds, run by the API in a worker thread."""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import stat

from ..rpc.errors import AppError
from ..schema.errors import ErrorKind
from ..schema.fs import (
    MAX_RPC_FILE_BYTES,
    FsDeleteResult,
    FsEntry,
    FsListResult,
    FsMoveResult,
    FsReadResult,
    FsWriteResult,
)
from .atomic import AtomicWriter
from .roots import FsRoots, Location, fs_errors

MAX_LIST_ENTRIES = 10_000


def _entry(name: str, path: str, st: os.stat_result, target: str | None = None) -> FsEntry:
    mode = st.st_mode
    kind = (
        "symlink"
        if stat.S_ISLNK(mode)
        else "directory"
        if stat.S_ISDIR(mode)
        else "file"
        if stat.S_ISREG(mode)
        else "other"
    )
    return FsEntry(
        name=name, path=path, type=kind, size=st.st_size, mode=stat.S_IMODE(mode), modified=st.st_mtime, target=target
    )


def list_dir(roots: FsRoots, path: str) -> FsListResult:
    loc = roots.locate(path)
    with fs_errors(path):
        fd = roots.open_dir(loc)
        try:
            entries = []
            with os.scandir(fd) as it:
                for item in it:
                    st = item.stat(follow_symlinks=False)
                    target = os.readlink(item.name, dir_fd=fd) if stat.S_ISLNK(st.st_mode) else None
                    entries.append(_entry(item.name, os.path.join(loc.real, item.name), st, target))
                    if len(entries) > MAX_LIST_ENTRIES:
                        raise AppError(
                            ErrorKind.LIMIT_EXCEEDED, f"{path!r} has over {MAX_LIST_ENTRIES} entries", path=path
                        )
        finally:
            os.close(fd)
    entries.sort(key=lambda e: e.name)
    return FsListResult(path=loc.real, entries=entries)


def stat_path(roots: FsRoots, path: str) -> FsEntry:
    loc = roots.locate(path, follow=False)
    with fs_errors(path):
        if loc.is_root:
            return _entry(os.path.basename(loc.root), loc.root, os.stat(loc.root))
        fd = roots.open_parent(loc)
        try:
            st = os.stat(loc.name, dir_fd=fd, follow_symlinks=False)
            target = os.readlink(loc.name, dir_fd=fd) if stat.S_ISLNK(st.st_mode) else None
        finally:
            os.close(fd)
    return _entry(loc.name, loc.real, st, target)


def open_file(roots: FsRoots, path: str) -> tuple[int, int, Location]:
    """An fd on a regular file inside the roots (never through a symlink), its size, and where it is."""
    loc = roots.locate(path)
    if loc.is_root:
        raise AppError(ErrorKind.FS_ERROR, f"{path!r} is a directory", path=path)
    with fs_errors(path):
        parent = roots.open_parent(loc)
        try:
            fd = os.open(loc.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=parent)
        finally:
            os.close(parent)
        st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise AppError(ErrorKind.FS_ERROR, f"{path!r} is {what}", path=path)
    return fd, st.st_size, loc


def read_file(roots: FsRoots, path: str, offset: int, length: int | None, encoding: str) -> FsReadResult:
    fd, size, loc = open_file(roots, path)
    try:
        available = max(0, size - offset)
        if length is None:
            if available > MAX_RPC_FILE_BYTES:
                raise AppError(
                    ErrorKind.LIMIT_EXCEEDED,
                    f"{path!r} has {available} bytes from offset {offset}; read at most {MAX_RPC_FILE_BYTES} per "
                    "call (offset/length), or stream it with GET /v1/fs/file?path=...",
                    path=path,
                    size=size,
                    limit=MAX_RPC_FILE_BYTES,
                )
            length = available
        with fs_errors(path):
            data = os.pread(fd, min(length, available), offset)
    finally:
        os.close(fd)
    text = None
    if encoding != "base64":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            if encoding == "utf-8":
                raise AppError(ErrorKind.FS_ERROR, f"{path!r} is not UTF-8 text; ask for base64", path=path) from None
    eof = offset + len(data) >= size
    common = {"path": loc.real, "size": size, "offset": offset, "length": len(data), "eof": eof}
    if text is not None:
        return FsReadResult(encoding="utf-8", text=text, **common)
    return FsReadResult(encoding="base64", data_base64=base64.b64encode(data).decode(), **common)


def decode_base64(data: str, field: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise AppError(ErrorKind.FS_ERROR, f"{field} is not valid base64") from None


def write_file(roots: FsRoots, path: str, data: bytes, create_dirs: bool, mode: int | None) -> FsWriteResult:
    if len(data) > MAX_RPC_FILE_BYTES:
        raise AppError(
            ErrorKind.LIMIT_EXCEEDED,
            f"{len(data)} bytes is over the {MAX_RPC_FILE_BYTES}-byte limit of fs/write; "
            "stream it with PUT /v1/fs/file?path=...",
            limit=MAX_RPC_FILE_BYTES,
        )
    writer = AtomicWriter(roots, path, create_dirs, mode)
    try:
        writer.write(data)
    except BaseException:
        writer.abort()
        raise
    writer.commit()
    return FsWriteResult(path=writer.loc.real, size=writer.size)


def mkdir(roots: FsRoots, path: str, parents: bool) -> FsEntry:
    loc = roots.locate(path, follow=False)
    with fs_errors(path):
        if loc.is_root:
            if parents:
                return stat_path(roots, path)
            raise FileExistsError
        fd = roots.open_parent(loc, create=parents)
        try:
            try:
                os.mkdir(loc.name, 0o755, dir_fd=fd)
            except FileExistsError:
                st = os.stat(loc.name, dir_fd=fd, follow_symlinks=False)
                if not (parents and stat.S_ISDIR(st.st_mode)):
                    raise
        finally:
            os.close(fd)
    return stat_path(roots, path)


def move(roots: FsRoots, src: str, dst: str, overwrite: bool) -> FsMoveResult:
    s, d = roots.locate(src, follow=False), roots.locate(dst, follow=False)
    if s.is_root or d.is_root:
        raise AppError(ErrorKind.FS_ERROR, "a root itself cannot be moved or replaced", src=src, dst=dst)
    with fs_errors(src):
        sfd = roots.open_parent(s)
    try:
        with fs_errors(dst):
            dfd = roots.open_parent(d)
        try:
            with fs_errors(src):
                os.stat(s.name, dir_fd=sfd, follow_symlinks=False)
            with fs_errors(dst):
                if not overwrite and _exists(d.name, dfd):
                    raise FileExistsError
                os.rename(s.name, d.name, src_dir_fd=sfd, dst_dir_fd=dfd)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
    return FsMoveResult(src=s.real, dst=d.real)


def delete(roots: FsRoots, path: str, recursive: bool) -> FsDeleteResult:
    loc = roots.locate(path, follow=False)
    if loc.is_root:
        raise AppError(ErrorKind.FS_ERROR, f"{path!r} is a file root and cannot be deleted", path=path)
    with fs_errors(path):
        fd = roots.open_parent(loc)
        try:
            st = os.stat(loc.name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(loc.name, dir_fd=fd)
            elif recursive:
                shutil.rmtree(loc.name, dir_fd=fd)  # fd-based: never follows a symlink out of the tree
            else:
                try:
                    os.rmdir(loc.name, dir_fd=fd)
                except OSError as exc:
                    if exc.errno == 39:  # ENOTEMPTY
                        raise AppError(
                            ErrorKind.FS_ERROR, f"{path!r} is not empty; pass recursive: true", path=path
                        ) from None
                    raise
        finally:
            os.close(fd)
    return FsDeleteResult(path=loc.real, deleted=True)


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False
