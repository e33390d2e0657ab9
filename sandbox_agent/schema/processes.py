"""Params, results and notifications of the `processes/*` methods: commands run inside the sandbox."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Stream = Literal["stdout", "stderr"]
OutputEncoding = Literal["text", "base64"]
ProcessStatus = Literal["running", "exited"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _CommandParams(_Params):
    command: list[str] | None = Field(default=None, min_length=1, description="argv, run without a shell")
    shell: str | None = Field(default=None, min_length=1, description="a /bin/sh -c command line")
    cwd: str | None = Field(default=None, description="default: the daemon's working directory")
    env: dict[str, str] | None = Field(default=None, description="added to the daemon's environment")
    timeout_s: float | None = Field(default=None, gt=0, description="kill the whole process group after this")

    @model_validator(mode="after")
    def _one_command(self) -> _CommandParams:
        if (self.command is None) == (self.shell is None):
            raise ValueError("give exactly one of command (argv list) or shell (string)")
        return self

    def argv(self) -> list[str]:
        return ["/bin/sh", "-c", self.shell] if self.shell is not None else list(self.command or [])


class ProcessRunParams(_CommandParams):
    stdin: str | None = Field(default=None, description="written to stdin, which is then closed")
    max_output_bytes: int | None = Field(default=None, ge=0, description="per stream; the rest is counted, not kept")


class ProcessRunResult(_Result):
    exit_code: int | None = Field(description="None when a signal ended it")
    signal: int | None = None
    stdout: str
    stderr: str
    truncated: bool = Field(description="some output went past max_output_bytes and was dropped")
    timed_out: bool
    duration_ms: float


class ProcessStartParams(_CommandParams):
    stdin: str | None = Field(default=None, description="first input; stdin stays open for processes/input")


class ProcessStartResult(_Result):
    process_id: str
    pid: int


class ProcessIdParams(_Params):
    process_id: str = Field(min_length=1)


class ProcessInfo(_Result):
    process_id: str
    pid: int
    command: list[str]
    cwd: str
    status: ProcessStatus
    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    started_at: float
    ended_at: float | None = None
    output_bytes: int = Field(description="stdout + stderr bytes produced so far (the output offset space)")


class ProcessListResult(_Result):
    processes: list[ProcessInfo]


class ProcessKillParams(ProcessIdParams):
    signal: str | int = Field(default="SIGTERM", description="a name (SIGTERM, TERM, KILL, INT...) or a number")


class ProcessKillResult(_Result):
    process_id: str
    signal: str
    delivered: bool = Field(description="false when the process had already exited")


class ProcessInputParams(ProcessIdParams):
    data: str | None = None
    data_base64: str | None = None
    eof: bool = Field(default=False, description="close stdin after writing")


class ProcessInputResult(_Result):
    bytes: int


class ProcessOutputParams(ProcessIdParams):
    offset: int = Field(default=0, ge=0, description="byte offset in the process's combined output")
    limit: int = Field(default=1024 * 1024, ge=1, le=8 * 1024 * 1024)
    encoding: OutputEncoding = "text"


class OutputChunk(_Result):
    stream: Stream
    offset: int
    data: str


class ProcessOutputResult(_Result):
    process_id: str
    offset: int = Field(description="where the chunks start (past `offset` when older output was dropped)")
    next_offset: int
    dropped: int = Field(description="bytes between the asked offset and the oldest kept byte")
    has_more: bool
    encoding: OutputEncoding
    chunks: list[OutputChunk]
    stdout: str = Field(description="the text chunks of stdout joined (empty for base64)")
    stderr: str
    status: ProcessStatus
    exit_code: int | None = None


class ProcessSubscribeParams(_Params):
    process_id: str | None = Field(default=None, description="one process (with replay from offset), or all")
    offset: int = Field(default=0, ge=0, description="replay kept output after this offset (one process only)")
    encoding: OutputEncoding = "text"


class ProcessSubscribeResult(_Result):
    subscription_id: str


class ProcessUnsubscribeParams(_Params):
    subscription_id: str


class ProcessOutputNotification(_Result):
    subscription_id: str
    process_id: str
    stream: Stream
    offset: int
    data: str
    encoding: OutputEncoding


class ProcessExitedNotification(_Result):
    subscription_id: str
    process_id: str
    exit_code: int | None
    signal: int | None
    timed_out: bool


class ProcessLimitsResult(_Result):
    max_processes: int = Field(description="running background processes at once")
    max_output_bytes: int = Field(description="output kept per background process; run's cap per stream")
    max_timeout_s: float = Field(description="the longest timeout_s (and run's default)")
    running: int
