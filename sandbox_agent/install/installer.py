"""On-demand installation of agents into a per-user prefix: one folder per agent and version, atomic and shared.

A version folder exists only once complete (npm runs in a `.partial-*` folder that is renamed at the end), so a
half-finished install never counts. Concurrent requests for the same agent and version share one npm run:
an asyncio lock within the daemon, a file lock across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from pydantic import BaseModel

from ..ops.stats import STATS
from ..rpc.errors import AppError
from ..schema.errors import ErrorKind
from .catalog import CATALOG, AgentPackage
from .npm import npm_install

log = logging.getLogger(__name__)

Progress = Callable[[str, int | None, int | None], None]
MARKER = "sandbox-agent-install.json"


def default_root() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "sandbox-agent" / "agents"


class InstalledAgent(BaseModel):
    agent: str
    package: str
    version: str
    command: list[str]
    reported_version: str | None = None
    size_bytes: int = 0
    install_seconds: float = 0.0


def _dir_size(path: Path) -> int:
    """Bytes on disk, counting hard-linked files once (the agents' postinstall hard-links their binaries)."""
    total, seen = 0, set()
    for root, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(root, f))
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
    return total


DISK_FULL_MARGIN = 16 * 1024 * 1024


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _disk_nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(_existing_parent(path)).free < DISK_FULL_MARGIN
    except OSError:
        return False


@contextlib.asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(0.2)  # another process is installing the same thing
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class Installer:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_root()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.npm_runs = 0

    def spec(self, agent: str) -> AgentPackage:
        spec = CATALOG.get(agent)
        if spec is None:
            raise AppError(ErrorKind.AGENT_NOT_FOUND, f"no installable agent {agent!r}; known: {', '.join(CATALOG)}")
        return spec

    def installed(self, agent: str, version: str | None = None) -> InstalledAgent | None:
        """The complete install of this version (the pinned one by default), if there is one that still runs."""
        spec = self.spec(agent)
        folder = self.root / agent / (version or spec.version)
        marker = folder / MARKER
        if not marker.is_file():
            return None
        try:
            info = InstalledAgent.model_validate_json(marker.read_bytes())
        except ValueError:
            return None
        command = spec.resolve(folder)
        if command is None:
            return None
        return info.model_copy(update={"command": command})

    async def install(
        self, agent: str, version: str | None = None, reinstall: bool = False, progress: Progress | None = None
    ) -> InstalledAgent:
        spec = self.spec(agent)
        version = version or spec.version
        report = progress or (lambda phase, done, total: None)
        lock = self._locks.setdefault((agent, version), asyncio.Lock())
        async with lock:
            if not reinstall and (done := self.installed(agent, version)):
                report("installed", done.size_bytes, done.size_bytes)
                return done
            async with _file_lock(self.root / agent / f".{version}.lock"):
                if not reinstall and (done := self.installed(agent, version)):  # another process finished it
                    report("installed", done.size_bytes, done.size_bytes)
                    return done
                started, outcome = time.monotonic(), "error"
                try:
                    installed = await self._install(spec, version, report)
                    outcome = "ok"
                    return installed
                finally:
                    STATS.install_finished(agent, time.monotonic() - started, outcome)

    async def _install(self, spec: AgentPackage, version: str, report: Progress) -> InstalledAgent:
        final = self.root / spec.agent / version
        partial = self.root / spec.agent / f".{version}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        started = time.monotonic()
        report("downloading", 0, None)
        watcher = asyncio.ensure_future(self._watch_size(partial, report))
        try:
            self.npm_runs += 1
            log.info("installing %s@%s into %s", spec.package, version, final)
            await npm_install(spec.package, version, partial, extra=spec.extra)
            watcher.cancel()
            command = spec.resolve(partial)
            if command is None:
                raise AppError(
                    ErrorKind.INSTALL_FAILED,
                    f"{spec.package}@{version} installed but its binary for this platform is missing "
                    "(npm may have skipped the optional platform package)",
                )
            report("verifying", None, None)
            reported = await self._check_runs(command, spec)
            size = _dir_size(partial)
            info = InstalledAgent(
                agent=spec.agent,
                package=spec.package,
                version=version,
                command=[],
                reported_version=reported,
                size_bytes=size,
                install_seconds=round(time.monotonic() - started, 2),
            )
            (partial / MARKER).write_text(info.model_dump_json(indent=2))
            old = final.with_name(f".{version}.old-{os.getpid()}")
            if final.exists():
                final.rename(old)
            partial.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:
            if exc.errno == 28 or _disk_nearly_full(partial):
                raise AppError(ErrorKind.DISK_FULL, f"no space left while installing {spec.package}: {exc}") from None
            raise AppError(ErrorKind.INSTALL_FAILED, f"installing {spec.package} failed: {exc}") from None
        except AppError as exc:
            # npm does not always notice a full disk (seen: it wrote truncated files and exited 0).
            if exc.error_kind is not ErrorKind.DISK_FULL and _disk_nearly_full(partial):
                free = shutil.disk_usage(_existing_parent(partial)).free
                raise AppError(
                    ErrorKind.DISK_FULL,
                    f"the disk under {self.root} is full ({free // 1024} KiB free) while installing {spec.package}; "
                    "free some space and retry",
                    cause=exc.message,
                ) from None
            raise
        finally:
            watcher.cancel()
            shutil.rmtree(partial, ignore_errors=True)
        done = self.installed(spec.agent, version)
        if done is None:
            raise AppError(ErrorKind.INSTALL_FAILED, f"{spec.package}@{version} did not verify after installing")
        report("installed", done.size_bytes, done.size_bytes)
        return done

    @staticmethod
    async def _watch_size(path: Path, report: Progress) -> None:
        while True:
            await asyncio.sleep(0.5)
            report("downloading", _dir_size(path), None)

    @staticmethod
    async def _check_runs(command: list[str], spec: AgentPackage) -> str | None:
        proc = await asyncio.create_subprocess_exec(
            *command,
            *spec.version_args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "NO_COLOR": "1"},
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AppError(ErrorKind.INSTALL_FAILED, f"{spec.name} did not answer --version within 60 s") from None
        text = out.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            raise AppError(ErrorKind.INSTALL_FAILED, f"{spec.name} --version failed: {text[-500:]}")
        return text.splitlines()[-1] if text else None
