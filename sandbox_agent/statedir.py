"""A state dir and the one daemon that owns it: lock, unix socket, pid file, and attaching from a client.

The daemon holds an exclusive `flock` on `daemon.lock` for its whole life; the kernel drops it on any death,
kill -9 included, so a lock that can be taken means nobody owns the dir (a stale pid file or socket means
nothing). Clients reach the owner through `daemon.sock` (mode 0600). This module sits below `server` and
`client` so both the CLI relay and the SDK attach the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

LOCK_FILE = "daemon.lock"
SOCKET_FILE = "daemon.sock"
PID_FILE = "daemon.json"
LOG_FILE = "daemon.log"
ERR_FILE = "daemon.stderr"
DEFAULT_IDLE_EXIT = 300.0  # seconds an auto-started daemon waits with no clients and no running turn
EXIT_OWNED = 3  # exit code of a daemon that found its state dir owned by another one
_SUN_PATH_MAX = 100  # sockaddr_un holds 108 bytes; stay clear of it


def default_state_dir(env: dict[str, str] | None = None) -> Path:
    env = env if env is not None else dict(os.environ)
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "sandbox-agent"


class StateDirOwned(Exception):
    """Another live daemon holds the state dir."""

    def __init__(self, state_dir: Path, owner: dict[str, Any] | None) -> None:
        self.state_dir = state_dir
        self.owner = owner or {}
        pid = self.owner.get("pid", "?")
        super().__init__(
            f"state dir {state_dir} is owned by a running daemon (pid {pid}); attach to it (the default for "
            "`stdio`, `mcp` and SandboxAgent.start()), stop it with `sandbox-agent daemon stop`, or use another "
            "--state-dir or --ephemeral"
        )


class StateDirLock:
    """The exclusive, process-lifetime lock on a state dir."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._fd: int | None = None

    def acquire(self, attempts: int = 10) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        for i in range(attempts):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return
            except BlockingIOError:
                if i + 1 < attempts:
                    time.sleep(0.02)  # a client probing the lock holds it for microseconds only
        os.close(fd)
        raise StateDirOwned(self.state_dir, read_pid_file(self.state_dir))

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def is_owned(state_dir: Path) -> bool:
    """True when a live daemon holds the lock (probed without disturbing it for more than a moment)."""
    try:
        fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def write_pid_file(state_dir: Path, info: dict[str, Any]) -> None:
    path = state_dir / PID_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)


def read_pid_file(state_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((state_dir / PID_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def socket_path(state_dir: Path) -> Path:
    return state_dir / SOCKET_FILE


@contextlib.contextmanager
def short_socket_path(path: Path) -> Any:
    """A path to the socket that fits sockaddr_un: long state dirs are reached through /proc/self/fd/N."""
    text = str(path)
    if len(text.encode()) <= _SUN_PATH_MAX:
        yield text
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


async def open_socket(state_dir: Path, limit: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    with short_socket_path(socket_path(state_dir)) as path:
        return await asyncio.open_unix_connection(path, limit=limit)


def self_command() -> list[str]:
    """argv that runs this same sandbox-agent (a frozen executable, a zipapp, or the installed package)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0.endswith((".pyz", ".pex")) and os.path.isfile(argv0):
        return [sys.executable, argv0]
    return [sys.executable, "-m", "sandbox_agent"]


def spawn_daemon(
    state_dir: Path, extra: list[str] | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `sandbox-agent daemon run` detached from this process (own session, no inherited stdio)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    err = open(state_dir / ERR_FILE, "ab")  # handed to the child, closed here after
    try:
        return subprocess.Popen(
            [*self_command(), "daemon", "run", "--state-dir", str(state_dir), *(extra or [])],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, **(env or {})},
        )
    finally:
        err.close()


def _stderr_tail(state_dir: Path, limit: int = 2000) -> str:
    try:
        data = (state_dir / ERR_FILE).read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode(errors="replace").strip()


class AttachFailed(Exception):
    pass


async def attach(
    state_dir: Path,
    *,
    start: bool = True,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    limit: int = 16 * 1024 * 1024,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the state dir's daemon, starting a shared background one when none runs.

    Two clients racing here both spawn a daemon; one wins the lock, the other exits with EXIT_OWNED, and both
    clients connect to the winner.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    child: subprocess.Popen[bytes] | None = None
    delay = 0.005
    while True:
        try:
            return await open_socket(state_dir, limit)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            pass
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ECONNREFUSED):
                raise AttachFailed(f"cannot connect to the daemon in {state_dir}: {exc}") from None
        if not start:
            raise AttachFailed(f"no daemon is running in {state_dir}")
        if child is None and not is_owned(state_dir):
            child = spawn_daemon(state_dir, extra, env)
        elif child is not None and child.poll() not in (None, EXIT_OWNED):
            raise AttachFailed(
                f"the daemon for {state_dir} exited with code {child.returncode}: {_stderr_tail(state_dir)}"
            )
        elif child is not None and child.returncode == EXIT_OWNED and not is_owned(state_dir):
            child = None  # the owner we lost to is gone already: try again
        if loop.time() > deadline:
            raise AttachFailed(f"the daemon for {state_dir} did not answer within {timeout:.0f}s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)
