"""The `fs/*` methods, registered on the API dispatcher. File work runs in a worker thread."""

from __future__ import annotations

import asyncio

from ..fs import ops
from ..fs.tar import upload_tar
from ..schema.fs import (
    FsDeleteParams,
    FsDeleteResult,
    FsEntry,
    FsListResult,
    FsMkdirParams,
    FsMoveParams,
    FsMoveResult,
    FsReadParams,
    FsReadResult,
    FsRootsResult,
    FsUploadParams,
    FsUploadResult,
    FsWriteParams,
    FsWriteResult,
    PathParams,
)
from ..schema.methods import EmptyParams
from .api import api
from .client_context import ClientContext


@api.method("fs/roots", EmptyParams, FsRootsResult, "The directories the file API may touch.")
async def fs_roots(p: EmptyParams, ctx: ClientContext) -> FsRootsResult:
    return FsRootsResult(roots=ctx.daemon.fs_roots.roots())


@api.method("fs/list", PathParams, FsListResult, "A directory's entries (symlinks not followed).")
async def fs_list(p: PathParams, ctx: ClientContext) -> FsListResult:
    return await asyncio.to_thread(ops.list_dir, ctx.daemon.fs_roots, p.path)


@api.method("fs/stat", PathParams, FsEntry, "One path's type, size, mode and mtime (a symlink itself).")
async def fs_stat(p: PathParams, ctx: ClientContext) -> FsEntry:
    return await asyncio.to_thread(ops.stat_path, ctx.daemon.fs_roots, p.path)


@api.method("fs/read", FsReadParams, FsReadResult, "Read a file (text, or base64 for binary); up to 8 MiB per call.")
async def fs_read(p: FsReadParams, ctx: ClientContext) -> FsReadResult:
    return await asyncio.to_thread(ops.read_file, ctx.daemon.fs_roots, p.path, p.offset, p.length, p.encoding)


@api.method("fs/write", FsWriteParams, FsWriteResult, "Write a whole file atomically (temp file + rename).")
async def fs_write(p: FsWriteParams, ctx: ClientContext) -> FsWriteResult:
    data = p.text.encode() if p.text is not None else ops.decode_base64(p.data_base64 or "", "data_base64")
    return await asyncio.to_thread(ops.write_file, ctx.daemon.fs_roots, p.path, data, p.create_dirs, p.mode)


@api.method("fs/mkdir", FsMkdirParams, FsEntry, "Create a directory (parents: like mkdir -p).")
async def fs_mkdir(p: FsMkdirParams, ctx: ClientContext) -> FsEntry:
    return await asyncio.to_thread(ops.mkdir, ctx.daemon.fs_roots, p.path, p.parents)


@api.method("fs/move", FsMoveParams, FsMoveResult, "Rename or move a file or directory within the roots.")
async def fs_move(p: FsMoveParams, ctx: ClientContext) -> FsMoveResult:
    return await asyncio.to_thread(ops.move, ctx.daemon.fs_roots, p.src, p.dst, p.overwrite)


@api.method("fs/delete", FsDeleteParams, FsDeleteResult, "Delete a file, a symlink, or a directory (recursive).")
async def fs_delete(p: FsDeleteParams, ctx: ClientContext) -> FsDeleteResult:
    return await asyncio.to_thread(ops.delete, ctx.daemon.fs_roots, p.path, p.recursive)


@api.method("fs/upload", FsUploadParams, FsUploadResult, "Extract a tar under a directory (safe: tarfile data filter).")
async def fs_upload(p: FsUploadParams, ctx: ClientContext) -> FsUploadResult:
    archive = ops.decode_base64(p.tar_base64, "tar_base64")
    return await asyncio.to_thread(upload_tar, ctx.daemon.fs_roots, p.path, archive)
