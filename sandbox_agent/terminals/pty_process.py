"""A command on a fresh pseudo-terminal: it leads a new session with the PTY as its controlling terminal."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal as signals
import struct
import subprocess
import termios

from ..rpc.errors import AppError
from ..schema.errors import ErrorKind


def _take_terminal() -> None:
    """In the child, after setsid(): make stdin (the PTY's slave side) the controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def spawn_on_pty(argv: list[str], cwd: str, env: dict[str, str], cols: int, rows: int) -> tuple[int, int]:
    """Start `argv` on a new PTY; returns (pid, master fd), the master non-blocking."""
    master, slave = pty.openpty()
    try:
        set_size(slave, cols, rows)
        proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=_take_terminal,
            close_fds=True,
        )
    except OSError as exc:
        os.close(master)
        msg = f"cannot start {argv[0]!r} in {cwd!r}: {exc.strerror or exc}"
        raise AppError(ErrorKind.SPAWN_FAILED, msg, errno=exc.errno) from None
    finally:
        os.close(slave)
    # Popen's object is not kept: the terminal reaps the child itself through a pidfd, so nothing waits twice.
    proc.returncode = 0  # tell Popen's finalizer the child is not its business any more
    os.set_blocking(master, False)
    return proc.pid, master


def session_members(sid: int) -> list[int]:
    """Every process in session `sid` (Linux /proc): background jobs of an interactive shell have their own
    process groups, so killing the shell's group alone would leave them running."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 3 and int(fields[3]) == sid:
            found.append(int(entry))
    return found


def kill_session(sid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, sig)
    for pid in session_members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def exit_fields(status: int) -> tuple[int | None, int | None]:
    code = os.waitstatus_to_exitcode(status)
    return (None, -code) if code < 0 else (code, None)


HANGUP = signals.SIGHUP
