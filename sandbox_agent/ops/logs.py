"""Logging for the daemon: text or one JSON object per line, session and turn ids, secrets scrubbed, rotation.

- `configure(level, fmt)` sets up the root logger on stderr (or a size-rotated file) for a CLI command.
- The ids: `session_id` / `turn_id` come from the record (`extra=`), else from the context variables bound
  per JSON-RPC call (`bind_session`), else — for the turn — from a lookup the daemon registers.
- Secrets: every formatted line (message, arguments, traceback, extras) passes through `REDACTOR`, which
  replaces the values of secret-named environment variables (`*_API_KEY`, `*_TOKEN`, ...: from the daemon's
  environment and from every `env` a client sends) and anything shaped like a bearer token or a provider key.
  Scrubbing the finished line rather than the message means no code path can log around it.

This module imports only the standard library: it sits at the bottom with the schema, so the dispatcher and
the session layer may use it.
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
FILE_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

session_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("sandbox_agent_session_id", default=None)
turn_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("sandbox_agent_turn_id", default=None)
_turn_lookup: Callable[[str], str | None] | None = None
_calls = logging.getLogger("sandbox_agent.calls")
TRACE_MAX = 2000


def bind_session(session_id: str | None, turn_id: str | None = None) -> None:
    """Tag the logs of the current task (and the tasks it starts) with these ids."""
    session_id_var.set(session_id)
    turn_id_var.set(turn_id)


def bind_params(params: Any, method: str = "") -> None:
    """Called by the dispatcher for every call: its session id for the logs, its env values as secrets.

    At debug level each call is logged with its params (cut to TRACE_MAX characters, scrubbed like every line).
    """
    session_id_var.set(getattr(params, "session_id", None))
    env = getattr(params, "env", None)
    if env:
        REDACTOR.register_env(env)
    if _calls.isEnabledFor(logging.DEBUG):
        text = params.model_dump_json(exclude_none=True)
        cut = text if len(text) <= TRACE_MAX else text[:TRACE_MAX] + f"... ({len(text)} chars)"
        _calls.debug("%s %s", method, cut, extra={"method": method})


def set_turn_lookup(lookup: Callable[[str], str | None] | None) -> None:
    """session_id -> the turn running now; lets logs from agent readers carry the turn id."""
    global _turn_lookup
    _turn_lookup = lookup


# secrets

SECRET_NAME = re.compile(
    r"(?:^|_)(?:API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|ACCESS_KEY|PRIVATE_KEY|AUTH|CREDENTIALS?)(?:_|$)", re.I
)
MIN_SECRET_LEN = 6  # shorter values ("1", "true") would redact ordinary words
MASK = "[REDACTED]"
_SHAPES = re.compile(
    r"(?P<bearer>(?i:bearer)\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(?:sk|rk|pk)-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_-]{16,}"  # OpenAI / Anthropic / Stripe-style keys
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bsgamp_[A-Za-z0-9_]{16,}"  # Amp keys
)


class Redactor:
    """Replaces known secret values and secret-shaped strings in text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._literal: re.Pattern[str] | None = None

    def register(self, value: str | None) -> None:
        if value and len(value) >= MIN_SECRET_LEN and value not in self._values:
            self._values.add(value)
            # longest first, so a secret that contains another is masked whole
            alternatives = sorted(self._values, key=len, reverse=True)
            self._literal = re.compile("|".join(re.escape(v) for v in alternatives))

    def register_env(self, env: Mapping[str, str] | None) -> None:
        for name, value in (env or {}).items():
            if SECRET_NAME.search(name) and isinstance(value, str):
                self.register(value)

    def __call__(self, text: str) -> str:
        if self._literal is not None:
            text = self._literal.sub(MASK, text)
        return _SHAPES.sub(lambda m: (m.group("bearer") or "") + MASK, text)


REDACTOR = Redactor()
REDACTOR.register_env(os.environ)


# formatting

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def _ids(record: logging.LogRecord) -> tuple[str | None, str | None]:
    sid = getattr(record, "session_id", None) or session_id_var.get()
    tid = getattr(record, "turn_id", None) or turn_id_var.get()
    if sid and not tid and _turn_lookup is not None:
        try:
            tid = _turn_lookup(sid)
        except Exception:
            tid = None
    return sid, tid


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", "session_id"?, "turn_id"?, "exception"?, ...extras}` per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _dt.datetime.fromtimestamp(record.created, _dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        sid, tid = _ids(record)
        if sid:
            out["session_id"] = sid
        if tid:
            out["turn_id"] = tid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in out and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return REDACTOR(json.dumps(out, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """The classic one-line format, with `[session turn]` when known, scrubbed like the JSON one."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        sid, tid = _ids(record)
        if sid:
            line += f" [session={sid}" + (f" turn={tid}]" if tid else "]")
        return REDACTOR(line)


def formatter(fmt: str, with_time: bool = False) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if fmt == "text":
        return TextFormatter(FILE_TEXT_FORMAT if with_time else TEXT_FORMAT)
    raise ValueError(f"unknown log format {fmt!r}: use text or json")


def rotating_file_handler(
    path: Path, fmt: str = "text", max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS
) -> logging.Handler:
    """A size-rotated log file (`daemon.log`, `.1` .. `.N`), private to the user, in our format."""
    import logging.handlers  # here: pickle, queue and socket with it cost `server` (logging to stderr) ~3 ms

    class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
        """Each new log file is readable by its owner only (rotated ones keep the mode when renamed)."""

        def _open(self) -> Any:
            stream = super()._open()
            try:
                os.chmod(self.baseFilename, 0o600)
            except OSError:
                pass
            return stream

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = _PrivateRotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(formatter(fmt, with_time=True))
    return handler


def configure(
    level: str = "info",
    fmt: str = "text",
    stream: TextIO | None = None,
    file: Path | None = None,
    max_bytes: int = LOG_MAX_BYTES,
    backups: int = LOG_BACKUPS,
) -> logging.Handler:
    """Route every logger through one handler on the root: stderr, or a rotated file when `file` is given."""
    if file is not None:
        handler = rotating_file_handler(file, fmt, max_bytes, backups)
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    logging.captureWarnings(True)
    REDACTOR.register_env(os.environ)
    return handler
