"""Amp's `delegate` permission command: asks the sandbox-agent daemon whether a tool call may run.

Amp runs this once per tool call that a `delegate` rule matches, with the tool input on stdin and
AGENT_TOOL_NAME / AGENT_TOOL_USE_ID / AMP_THREAD_ID in the environment. It connects to the daemon's unix socket
(SANDBOX_AGENT_DELEGATE_SOCKET) with this session's secret, waits for the client's decision, and exits 0 (allow)
or 2 with the reason on stderr (reject: Amp hands stderr to the model). Stdlib only; started with `python -I`.
"""

from __future__ import annotations

import json
import os
import socket
import sys

REJECT = 2


def main() -> int:
    path = os.environ.get("SANDBOX_AGENT_DELEGATE_SOCKET", "")
    secret = os.environ.get("SANDBOX_AGENT_DELEGATE_SECRET", "")
    timeout = float(os.environ.get("SANDBOX_AGENT_DELEGATE_TIMEOUT", "300"))
    request = {
        "secret": secret,
        "tool": os.environ.get("AGENT_TOOL_NAME", ""),
        "tool_use_id": os.environ.get("AGENT_TOOL_USE_ID", ""),
        "thread_id": os.environ.get("AMP_THREAD_ID", ""),
        "input": sys.stdin.read(),
    }
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(path)
            conn.sendall(json.dumps(request).encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                reply += chunk
    except TimeoutError:
        sys.stderr.write(f"Rejected by sandbox-agent: no decision arrived within {timeout:.0f} seconds.\n")
        return REJECT
    except OSError as exc:
        sys.stderr.write(f"Rejected by sandbox-agent: the approval service is unreachable ({exc}).\n")
        return REJECT
    try:
        decision = json.loads(reply)
    except ValueError:
        sys.stderr.write("Rejected by sandbox-agent: the approval was cancelled.\n")
        return REJECT
    if decision.get("allow"):
        return 0
    sys.stderr.write(str(decision.get("message") or "The user rejected this tool call.") + "\n")
    return REJECT


if __name__ == "__main__":
    sys.exit(main())
