"""The environment an agent process gets: a small allow-list of the daemon's, plus the session's own."""

from __future__ import annotations

import os

PASSTHROUGH = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "TERM",
    "TMPDIR",
    "TZ",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)


def child_env(session_env: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """Agents do not inherit the daemon's environment wholesale: an allow-list, then the session's own env."""
    env = {k: v for k in PASSTHROUGH if (v := os.environ.get(k)) is not None}
    env.update(extra or {})
    env.update(session_env)
    return env
