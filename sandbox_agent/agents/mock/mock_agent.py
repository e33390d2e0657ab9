"""The mock agent process: scripted by the first word of each message, speaking its own NDJSON on stdio.

Runs as `python -I -S mock_agent.py` (stdlib only, no site, no asyncio: it starts in ~15 ms with ~10 MB RSS)
exactly like a real agent CLI would: the daemon writes one JSON line per input and reads one per output. A turn is a
generator that yields what it waits for — ("sleep", seconds) or ("ask", request id) — so a selectors loop can
run it, deliver replies to it, and cancel it on interrupt. Trigger words are listed in TRIGGERS.
"""

from __future__ import annotations

import os
import select
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and collections.abc would cost every mock child ~0.5 MB of RSS, for annotations only
    from collections.abc import Generator
    from typing import Any

    Turn = Generator[tuple[str, Any], Any, None]

try:  # json's C halves without json itself, which imports re and enum (~0.8 MB of RSS in every mock child)
    from _json import encode_basestring_ascii, make_encoder, make_scanner
except ImportError:  # an interpreter without the C accelerator
    import json

    def loads(data: bytes | str) -> Any:
        return json.loads(data)

    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))

else:

    class _Decoding:  # the settings json.JSONDecoder hands the same C scanner
        strict, object_hook, object_pairs_hook = True, None, None
        parse_float, parse_int, parse_constant = float, int, float  # float() reads NaN, Infinity, -Infinity

    _scan = make_scanner(_Decoding())
    _encode = make_encoder(None, None, encode_basestring_ascii, None, ":", ",", False, False, True)

    def loads(data: bytes | str) -> Any:
        text = (data.decode() if isinstance(data, bytes) else data).strip()
        try:
            value, end = _scan(text, 0)
        except StopIteration:
            raise ValueError("not JSON") from None
        if end != len(text):
            raise ValueError("extra data after the JSON value")
        return value

    def dumps(value: Any) -> str:
        return "".join(_encode(value, 0))


TRIGGERS = {
    "tool": "a tool call with its result, then a reply",
    "file": "a file change with a diff",
    "command": "a command execution with streamed output and an exit code",
    "permission": "asks permission to write a file and waits for permissions/reply",
    "question": "asks a multiple-choice question and waits for questions/reply",
    "reasoning": "streams reasoning, then a reply",
    "error": "reports an error and ends the turn with stop_reason error",
    "slow": "streams a word every 100 ms for N seconds (default 30); sessions/interrupt cancels it",
    "crash": "starts replying, writes to stderr and exits with code 1 mid-turn",
    "everything": "reasoning, a tool call, a command, a file change and a reply in one turn",
    "history": "lists every user message this conversation holds (its 'model context'), oldest first",
    "settings": "reports the model, agent mode and permission mode the next model call would use",
}
# Besides prompts the mock takes `steer` (text injected into the running turn, answered at once), `configure`
# (model, agent_mode, permission_mode for what follows) and keeps its conversation in MOCK_STATE/<id>.jsonl, so
# resume (MOCK_RESUME) and native fork (MOCK_FORK_FROM + MOCK_FORK_KEEP user messages) carry the history.


class Mock:
    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.n = 0
        self.always: set[str] = set()
        self.turn: Turn | None = None
        self.turn_id = ""
        self.waiting: tuple[str, Any] | None = None  # what the running turn waits for
        env = os.environ
        self.settings = {
            "model": env.get("MOCK_MODEL") or "mock",
            "agent_mode": env.get("MOCK_AGENT_MODE") or "chat",
            "permission_mode": env.get("MOCK_PERMISSION_MODE") or "default",
        }
        self.state = env.get("MOCK_STATE") or ""
        self._file: Any = None
        self.session = env.get("MOCK_RESUME") or f"mock-{os.urandom(6).hex()}"
        self.history: list[str] = self.load(env.get("MOCK_RESUME") or "")
        if env.get("MOCK_FORK_FROM"):
            self.history = self.load(env["MOCK_FORK_FROM"])[: int(env.get("MOCK_FORK_KEEP") or "0")]
            for text in self.history:
                self.save(text)

    # the conversation, kept like a real agent keeps its transcript

    def load(self, native_id: str) -> list[str]:
        if not (self.state and native_id):
            return []
        try:
            with open(os.path.join(self.state, native_id + ".jsonl")) as f:
                return [loads(line) for line in f if line.strip()]
        except (OSError, ValueError):
            return []

    def save(self, text: str) -> None:
        """Append one user message, like a real agent's transcript file (measured: rewriting the whole history
        every turn made the mock's CPU per turn grow with the conversation, 0.3 -> 1.1 ms after 2,000 turns)."""
        if not self.state:
            return
        try:
            if self._file is None:
                os.makedirs(self.state, exist_ok=True)
                self._file = open(os.path.join(self.state, self.session + ".jsonl"), "a")
            self._file.write(dumps(text) + "\n")
            self._file.flush()
        except OSError as exc:  # a full disk costs the resume history, never the conversation in progress
            sys.stderr.write(f"mock: could not save the conversation: {exc}\n")

    # output, buffered per loop step and written at once

    def write(self, *msgs: dict[str, Any]) -> None:
        self.out.extend(dumps(m).encode() + b"\n" for m in msgs)

    def flush(self) -> None:
        if self.out:
            data = b"".join(self.out)
            self.out.clear()
            view = memoryview(data)
            while view:
                view = view[os.write(1, view) :]

    def nid(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def text(self, body: str, kind: str = "message") -> list[dict[str, Any]]:
        mid = self.nid("m")
        words = body.split(" ")
        third = max(1, (len(words) + 2) // 3)
        chunks = [" ".join(words[i : i + third]) for i in range(0, len(words), third)]
        chunks = [c + (" " if i < len(chunks) - 1 else "") for i, c in enumerate(chunks)]
        return [
            {"t": "msg_start", "id": mid, "kind": kind},
            *({"t": "msg_delta", "id": mid, "text": c} for c in chunks),
            {"t": "msg_end", "id": mid},
        ]

    def file_change(self, path: str) -> dict[str, Any]:
        diff = f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+written by the mock agent\n"
        return {"t": "file_change", "id": self.nid("f"), "path": path, "action": "write", "diff": diff}

    def command(self, command: str) -> None:
        xid = self.nid("x")
        output = command[5:] + "\n" if command.startswith("echo ") else f"ran {command}\n"
        self.write(
            {"t": "command_start", "id": xid, "command": command},
            {"t": "command_output", "id": xid, "text": output},
            {"t": "command_end", "id": xid, "exit_code": 0},
        )

    # scenarios

    def run_turn(self, text: str, images: int, files: int) -> Turn:
        word, _, rest = text.strip().partition(" ")
        word = word.lower()
        stop = "end_turn"
        if word == "tool":
            cid = self.nid("c")
            query = rest or "sandbox agent"
            self.write(
                {"t": "tool_call", "id": cid, "name": "search", "input": {"query": query}},
                {"t": "tool_result", "id": cid, "output": f"3 results for {query!r}", "is_error": False},
                *self.text(f"I searched for {query} and found 3 results."),
            )
        elif word == "file":
            self.write(self.file_change(rest or "notes.txt"), *self.text("I wrote the file."))
        elif word == "command":
            self.command(rest or "echo hello")
            self.write(*self.text("The command finished."))
        elif word == "permission":
            path = rest or "approved.txt"
            if self.settings["permission_mode"] in ("bypass", "accept_edits"):
                reply = {"reply": self.settings["permission_mode"], "message": None}
            elif "write_file" in self.always:
                reply = {"reply": "always", "message": None}
            else:
                pid = self.nid("p")
                self.write({"t": "permission", "id": pid, "action": "write_file", "input": {"path": path}})
                reply = yield ("ask", pid)
            if reply["reply"] == "reject":
                self.write(*self.text(f"Permission denied: {reply.get('message') or 'no reason given'}"))
            else:
                if reply["reply"] == "always":
                    self.always.add("write_file")
                self.write(
                    self.file_change(path),
                    *self.text(f"Permission granted ({reply['reply']}); wrote {path}."),
                )
        elif word == "question":
            qid = self.nid("q")
            prompt = rest or "Which color should the button be?"
            self.write({"t": "question", "id": qid, "prompt": prompt, "options": ["Red", "Green", "Blue"]})
            answer = yield ("ask", qid)
            if answer["answers"] is None:
                self.write(*self.text("You declined to answer."))
            else:
                self.write(*self.text(f"You chose {', '.join(a for group in answer['answers'] for a in group)}."))
        elif word == "reasoning":
            self.write(*self.text("Let me think about this step by step.", kind="reasoning"))
            self.write(*self.text("Thought it through: the answer is 42."))
        elif word == "history":
            self.write(*self.text("History: " + " | ".join(self.history)))
        elif word == "settings":
            self.write(*self.text(" ".join(f"{k}={v}" for k, v in self.settings.items())))
        elif word == "error":
            self.write({"t": "error", "message": rest or "the mock agent was asked to fail", "code": "mock_error"})
            stop = "error"
        elif word == "slow":
            seconds = float(rest) if rest.replace(".", "", 1).isdigit() else 30.0
            mid = self.nid("m")
            self.write({"t": "msg_start", "id": mid, "kind": "message"})
            for i in range(max(1, int(seconds * 10))):
                yield ("sleep", 0.1)
                self.write({"t": "msg_delta", "id": mid, "text": f"tick{i} "})
            self.write({"t": "msg_end", "id": mid})
        elif word == "crash":
            mid = self.nid("m")
            self.write(
                {"t": "msg_start", "id": mid, "kind": "message"},
                {"t": "msg_delta", "id": mid, "text": "Abou"},
            )
            self.flush()
            sys.stderr.write("mock agent: fatal: simulated crash\n" + "".join(f"  at frame {i}\n" for i in range(3)))
            sys.stderr.flush()
            os._exit(1)
        elif word == "everything":
            self.write(*self.text("Planning: search, run, edit.", kind="reasoning"))
            cid = self.nid("c")
            self.write(
                {"t": "tool_call", "id": cid, "name": "search", "input": {"query": "everything"}},
                {"t": "tool_result", "id": cid, "output": "1 result", "is_error": False},
            )
            self.command("echo hello")
            self.write(self.file_change("everything.txt"), *self.text("Done with everything."))
        else:
            extra = [f"{n} {what}{'s' * (n > 1)}" for n, what in ((images, "image"), (files, "file")) if n]
            suffix = f" (with {', '.join(extra)})" if extra else ""
            self.write(*self.text(f"You said: {text}{suffix}"))
        # made-up but predictable usage, so clients and dashboards see tokens without a model: a 10-token
        # "system prompt" plus one token per word of the message in, 5 tokens out
        usage = {"input_tokens": 10 + len(text.split()), "output_tokens": 5}
        self.write({"t": "turn_end", "turn": self.turn_id, "stop_reason": stop, "usage": usage})

    # driving the running turn

    def step(self, value: Any = None) -> None:
        assert self.turn is not None
        try:
            self.waiting = self.turn.send(value)
            if self.waiting[0] == "sleep":
                self.waiting = ("sleep", time.monotonic() + self.waiting[1])
        except StopIteration:
            self.turn, self.waiting = None, None

    def handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("t")
        if kind == "prompt":
            if self.turn is not None:
                self.write({"t": "error", "message": "a turn is already running", "code": "busy"})
                return
            self.turn_id = msg["turn"]
            self.history.append(msg.get("text", ""))
            self.save(msg.get("text", ""))
            self.turn = self.run_turn(msg.get("text", ""), msg.get("images", 0), msg.get("files", 0))
            self.step()
        elif kind == "steer":
            if self.turn is None:
                self.write({"t": "error", "message": "no turn to steer", "code": "no_turn"})
                return
            self.history.append(msg.get("text", ""))
            self.save(msg.get("text", ""))
            self.write(*self.text(f"Steered: {msg.get('text', '')}"))
        elif kind == "configure":
            self.settings.update({k: v for k, v in msg.items() if k in self.settings and v})
        elif kind == "interrupt":
            if self.turn is not None:
                self.turn.close()
                self.turn, self.waiting = None, None
                self.write({"t": "turn_end", "turn": self.turn_id, "stop_reason": "interrupted"})
        elif kind in ("permission_reply", "question_reply"):
            if self.turn is not None and self.waiting == ("ask", msg.get("id")):
                self.step(msg)

    def main(self) -> None:
        self.write({"t": "ready", "session": self.session})
        self.flush()
        poll = select.poll()  # not selectors: it imports collections and math for one fd
        poll.register(0, select.POLLIN)
        buf = b""
        while True:
            timeout = None
            if self.waiting is not None and self.waiting[0] == "sleep":
                timeout = max(0.0, self.waiting[1] - time.monotonic())
            if poll.poll(None if timeout is None else timeout * 1000):  # ms
                data = os.read(0, 1 << 16)  # under malloc's mmap threshold: no mmap/munmap per read
                if not data:
                    return
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        msg = loads(line)
                    except ValueError:
                        self.write(
                            {
                                "t": "error",
                                "message": "mock agent got a line that is not JSON",
                                "code": "bad_input",
                            }
                        )
                        continue
                    self.handle(msg)
            elif self.waiting is not None and self.waiting[0] == "sleep":
                self.step()
            self.flush()


if __name__ == "__main__":
    try:
        Mock().main()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
