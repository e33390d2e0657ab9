"""Stands between pi-acp and `pi --mode rpc`, bridging the two protocol details where the pinned pi (0.73.1, the
newest that runs on Node 20) and the pinned pi-acp (0.0.34) disagree; every other line passes through untouched:

- pi-acp asks `get_available_thinking_levels`, which pi 0.73.1 does not know (it answers unknown commands without
  their id, so pi-acp would wait forever): answered here with pi 0.73.1's levels;
- pi-acp ends a prompt on `agent_settled`, which pi 0.73.1 never sends (its `agent_end` is the end of the run):
  one `agent_settled` follows each `agent_end`.

Run as `python -I rpc_shim.py <pi argv...>`; stdlib only, two threads, exits with pi's exit code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

LEVELS = ["off", "minimal", "low", "medium", "high", "xhigh"]  # pi 0.73.1's thinking levels (its --thinking flag)


def main() -> int:
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    out = sys.stdout.buffer
    lock = threading.Lock()

    def emit(data: bytes) -> None:
        with lock:
            out.write(data)
            out.flush()

    def upstream() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            emit(line)
            if line.startswith(b'{"type":"agent_end"'):
                emit(b'{"type":"agent_settled"}\n')

    pump = threading.Thread(target=upstream, daemon=True)
    pump.start()
    for line in sys.stdin.buffer:
        try:
            msg = json.loads(line)
        except ValueError:
            msg = None
        if isinstance(msg, dict) and msg.get("type") == "get_available_thinking_levels":
            answer = {
                "id": msg.get("id"),
                "type": "response",
                "command": "get_available_thinking_levels",
                "success": True,
                "data": {"levels": LEVELS},
            }
            emit(json.dumps(answer).encode() + b"\n")
            continue
        try:
            child.stdin.write(line)
            child.stdin.flush()
        except BrokenPipeError:
            break
    child.stdin.close()
    code = child.wait()
    pump.join(timeout=2)
    return code


if __name__ == "__main__":
    sys.exit(main())
