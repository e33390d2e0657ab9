"""The shipper in a process of its own, so that shipping never waits for the daemon's GIL (nor the daemon for it).

In the daemon's process the shipper thread gave the event loop the GIL at every blocking call (a journal read,
each PostgreSQL round trip) and waited up to a switch interval (5 ms) to get it back while the loop was busy; at
~6,000 events/s that put the lag p99 at 130-210 ms although PostgreSQL commits in ~1 ms here (docs/decisions.md).
A child process reads the journal on its own read-only connection, as the thread did, and has a GIL to itself.

Parent <-> child, over pipes:
- stdin: one JSON line of settings (the URL travels here, never in argv), then `{"stop": seconds}`. EOF means the
  daemon is gone (even by kill -9): the child saves its watermark and exits, so a daemon restarted on the same
  state dir never ships alongside an orphan for long (and if it did, rows are idempotent).
- stdout: JSON lines, `{"status": {...}}` whenever it changed (at most every STATUS_EVERY s) and `{"log": [level,
  name, message]}`, which the daemon logs through its own handlers (file, JSON, level).
A child that dies is started again (backoff); one that never starts (an unusual packaging) leaves the shipper in
the daemon's process, as before, and says so in the log.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import orjson

from .outbox import JournalReader, OutboxState

log = logging.getLogger(__name__)

MODULE = "sandbox_agent.store.ship_process"
STATUS_EVERY = 0.1
RESTART_FIRST = 0.5
RESTART_MAX = 10.0
FAILED_STARTS = 3  # children that died before saying anything, in a row, before shipping in-process instead


def child_command(journal_path: Path) -> tuple[list[str], dict[str, str]]:
    """argv (the journal path, for `ps`; no secret) and environment of the child."""
    env = dict(os.environ)
    if not getattr(sys, "frozen", False):
        # a zipapp's packages are on sys.path only because its bootstrap put them there: hand them down
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return [sys.executable, "-m", MODULE, str(journal_path)], env


class ShipperProcess:
    """The daemon's handle on the shipper child: the same face as `Shipper` (start, status, state, stop)."""

    def __init__(self, url: str, journal_path: Path) -> None:
        self.url = url
        self.journal_path = journal_path
        outbox = OutboxState(journal_path.parent, url)
        if not outbox.path.exists():
            outbox.save(outbox.watermark, outbox.journal_inode)  # the daemon_id is fixed before any child runs
        self.daemon_id = outbox.daemon_id
        self._watermark_at_start = outbox.watermark
        self._journal: JournalReader | None = None  # for the head in status() (one read on the caller's thread)
        self._status: dict[str, Any] = {"state": "starting", "lag_rows": 0, "lag_seconds": 0.0,
                                        "daemon_id": self.daemon_id, "shipped_rows": 0, "snapshots_pending": 0}
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._stopping = False
        self._lock = threading.Lock()
        self._fallback: Any = None  # the in-process Shipper, when no child could run
        self.restarts = 0

    # what the daemon calls

    @property
    def state(self) -> str:
        return str(self.status()["state"])

    @property
    def watermark(self) -> int:
        if self._fallback is not None:
            return int(self._fallback.watermark)
        return int(self._status.get("watermark", 0))

    def status(self) -> dict[str, Any]:
        """The child's last word (at most STATUS_EVERY s old), with lag_rows from the journal's head now: rows a
        client has seen are never reported as shipped before they are."""
        if self._fallback is not None:
            return self._fallback.status()
        out = dict(self._status)
        watermark = int(out.pop("watermark", self._watermark_at_start))
        if self._stopping:
            return out
        try:
            if self._journal is None:
                self._journal = JournalReader(self.journal_path)
            out["lag_rows"] = max(0, self._journal.head() - watermark)
        except sqlite3.Error:
            pass  # the child's figure stands
        return out

    def start(self) -> None:
        self._reader = threading.Thread(target=self._supervise, name="store-shipper-pipe", daemon=True)
        self._reader.start()

    def wake(self) -> None:  # the child polls the journal itself
        pass

    def stop(self, drain_timeout: float = 3.0) -> None:
        """Blocking: the child ships for up to `drain_timeout` s more, then exits."""
        with self._lock:
            self._stopping = True
            proc = self._proc
        if proc is not None and proc.stdin is not None:
            try:
                proc.stdin.write(orjson.dumps({"stop": drain_timeout}) + b"\n")
                proc.stdin.close()
            except (OSError, ValueError):  # it is gone already
                pass
            try:
                proc.wait(drain_timeout + 15)
            except subprocess.TimeoutExpired:
                log.warning("store: the shipper process did not stop; killing it (the journal keeps its rows)")
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(5)
        if self._fallback is not None:
            self._fallback.stop(drain_timeout)
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self._status = {**self._status, "state": "stopped"}

    # the pipe thread: start the child, relay what it says, start it again if it dies

    def _supervise(self) -> None:
        delay, silent = RESTART_FIRST, 0
        while True:
            with self._lock:
                if self._stopping:
                    return
                try:
                    proc = self._spawn()
                except OSError as exc:
                    proc = None
                    log.error("store: cannot start the shipper process: %s", exc)
                self._proc = proc
            spoke = self._relay(proc) if proc is not None else False
            if proc is not None:
                code = proc.wait()
                if self._stopping:
                    return
                log.error("store: the shipper process exited (%s); starting it again (rows wait in the journal)",
                          code)
            silent = 0 if spoke else silent + 1
            if silent >= FAILED_STARTS:
                self._ship_in_process()
                return
            self._status = {**self._status, "state": "down", "error": "the shipper process exited"}
            self.restarts += 1
            delay = RESTART_FIRST if spoke else min(delay * 2, RESTART_MAX)
            time.sleep(delay)

    def _spawn(self) -> subprocess.Popen[bytes]:
        argv, env = child_command(self.journal_path)
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        assert proc.stdin is not None
        settings = {"url": self.url, "journal": str(self.journal_path), "daemon_id": self.daemon_id,
                    "log_level": logging.getLogger().getEffectiveLevel()}
        proc.stdin.write(orjson.dumps(settings) + b"\n")
        proc.stdin.flush()
        return proc

    def _relay(self, proc: subprocess.Popen[bytes]) -> bool:
        """Until the child's stdout ends; True when it said anything (it ran)."""
        assert proc.stdout is not None
        spoke = False
        for line in proc.stdout:
            try:
                msg = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            spoke = True
            if "status" in msg:
                self._status = msg["status"]
            elif "log" in msg:
                level, name, text = msg["log"]
                logging.getLogger(name).log(int(level), "%s", text)
        return spoke

    def _ship_in_process(self) -> None:
        from .shipper import Shipper

        log.error("store: the shipper process does not start here (%s); shipping from the daemon's process",
                  " ".join(child_command(self.journal_path)[0]))
        self._fallback = Shipper(self.url, self.journal_path)
        self._fallback.start()


# the child


class _PipeLog(logging.Handler):
    def __init__(self, out: IO[bytes], lock: threading.Lock) -> None:
        super().__init__()
        self.out, self.pipe_lock = out, lock  # (not `self.lock`: that is the Handler's own, held around emit)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _send(self.out, self.pipe_lock, {"log": [record.levelno, record.name, record.getMessage()]})
        except Exception:
            pass


def _send(out: IO[bytes], lock: threading.Lock, msg: dict[str, Any]) -> None:
    with lock:
        out.write(orjson.dumps(msg) + b"\n")
        out.flush()


def child_main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the daemon decides when we stop
    stdin, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the status pipe
    settings = orjson.loads(stdin.readline() or b"{}")
    lock = threading.Lock()
    root = logging.getLogger()
    root.handlers[:] = [_PipeLog(out, lock)]
    root.setLevel(int(settings.get("log_level", logging.WARNING)))

    from .shipper import Shipper

    shipper = Shipper(settings["url"], Path(settings["journal"]), daemon_id=settings.get("daemon_id"))
    drain = [0.0]
    done = threading.Event()

    def listen() -> None:  # a stop request, or EOF: the daemon is gone
        for line in stdin:
            try:
                drain[0] = float(orjson.loads(line).get("stop", 0.0))
            except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
                continue
            break
        done.set()

    threading.Thread(target=listen, name="stdin", daemon=True).start()
    shipper.start()
    last: dict[str, Any] | None = None
    sent_at = 0.0
    try:
        while not done.wait(STATUS_EVERY):
            status = {**shipper.status(), "watermark": shipper.watermark}
            now = time.monotonic()
            if status != last or now - sent_at >= 1.0:
                _send(out, lock, {"status": status})
                last, sent_at = status, now
        shipper.stop(drain[0])
        _send(out, lock, {"status": {**shipper.status(), "watermark": shipper.watermark}})
    except BrokenPipeError:
        shipper.stop(0.0)


if __name__ == "__main__":
    child_main()
