"""Params and results of the `fs/*` methods: files inside the daemon's roots."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EntryType = Literal["file", "directory", "symlink", "other"]
Encoding = Literal["utf-8", "base64"]

# What one JSON-RPC message may carry; bigger files go through GET|PUT /v1/fs/file.
MAX_RPC_FILE_BYTES = 8 * 1024 * 1024


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class PathParams(_Params):
    path: str = Field(min_length=1, description="absolute, or relative to the first root")


class FsEntry(_Result):
    name: str
    path: str
    type: EntryType
    size: int
    mode: int = Field(description="permission bits, e.g. 420 for 0o644")
    modified: float = Field(description="mtime, seconds since the epoch")
    target: str | None = Field(default=None, description="where a symlink points")


class FsListResult(_Result):
    path: str
    entries: list[FsEntry]


class FsReadParams(PathParams):
    offset: int = Field(default=0, ge=0)
    length: int | None = Field(default=None, ge=0, le=MAX_RPC_FILE_BYTES)
    encoding: Literal["auto", "utf-8", "base64"] = Field(
        default="auto", description="auto: utf-8 text when the bytes decode, else base64"
    )


class FsReadResult(_Result):
    path: str
    size: int
    offset: int
    length: int
    encoding: Encoding
    text: str | None = None
    data_base64: str | None = None
    eof: bool


class FsWriteParams(PathParams):
    text: str | None = None
    data_base64: str | None = None
    create_dirs: bool = False
    mode: int | None = Field(default=None, ge=0, le=0o7777, description="permission bits of a new file")

    @model_validator(mode="after")
    def _one_body(self) -> FsWriteParams:
        if (self.text is None) == (self.data_base64 is None):
            raise ValueError("give exactly one of text or data_base64")
        return self


class FsWriteResult(_Result):
    path: str
    size: int


class FsMkdirParams(PathParams):
    parents: bool = False


class FsMoveParams(_Params):
    src: str = Field(min_length=1)
    dst: str = Field(min_length=1)
    overwrite: bool = False


class FsMoveResult(_Result):
    src: str
    dst: str


class FsDeleteParams(PathParams):
    recursive: bool = False


class FsDeleteResult(_Result):
    path: str
    deleted: bool


class FsUploadParams(PathParams):
    tar_base64: str = Field(description="a tar archive (optionally gzip/bz2/xz), extracted under path")


class FsUploadResult(_Result):
    path: str
    files: int
    directories: int
    bytes: int


class FsRootsResult(_Result):
    roots: list[str]
