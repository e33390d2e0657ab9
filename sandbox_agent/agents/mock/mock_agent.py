"""The mock agent process: scripted by the first word of each message, speaking its own NDJSON on stdio.

Runs as `python -I mock_agent.py` (stdlib only, so it starts fast), exactly like a real agent CLI would:
the daemon writes one JSON line per input and reads one per output. Trigger words are listed in TRIGGERS.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

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
}


class Mock:
    def __init__(self) -> None:
        self.out = sys.stdout.buffer
        self.n = 0
        self.pending: dict[str, asyncio.Future[Any]] = {}
        self.always: set[str] = set()
        self.turn_task: asyncio.Task[None] | None = None
        self.watchers: set[asyncio.Task[None]] = set()

    def write(self, *msgs: dict[str, Any]) -> None:
        self.out.write(b"".join(json.dumps(m, separators=(",", ":")).encode() + b"\n" for m in msgs))
        self.out.flush()

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

    async def ask(self, msg: dict[str, Any]) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[msg["id"]] = fut
        self.write(msg)
        try:
            return await fut
        finally:
            self.pending.pop(msg["id"], None)

    async def run_turn(self, turn: str, text: str, images: int, files: int) -> None:
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
            await self.command(rest or "echo hello")
            self.write(*self.text("The command finished."))
        elif word == "permission":
            path = rest or "approved.txt"
            pid = self.nid("p")
            ask = {"t": "permission", "id": pid, "action": "write_file", "input": {"path": path}}
            if "write_file" in self.always:
                reply = {"reply": "always", "message": None}
            else:
                reply = await self.ask(ask)
            if reply["reply"] == "reject":
                why = reply.get("message") or "no reason given"
                self.write(*self.text(f"Permission denied: {why}"))
            else:
                if reply["reply"] == "always":
                    self.always.add("write_file")
                self.write(
                    self.file_change(path),
                    *self.text(f"Permission granted ({reply['reply']}); wrote {path}."),
                )
        elif word == "question":
            qid = self.nid("q")
            answer = await self.ask(
                {
                    "t": "question",
                    "id": qid,
                    "prompt": rest or "Which color should the button be?",
                    "options": ["Red", "Green", "Blue"],
                }
            )
            if answer["answers"] is None:
                self.write(*self.text("You declined to answer."))
            else:
                chosen = ", ".join(a for group in answer["answers"] for a in group)
                self.write(*self.text(f"You chose {chosen}."))
        elif word == "reasoning":
            self.write(*self.text("Let me think about this step by step.", kind="reasoning"))
            self.write(*self.text("Thought it through: the answer is 42."))
        elif word == "error":
            self.write(
                {"t": "error", "message": rest or "the mock agent was asked to fail", "code": "mock_error"}
            )
            stop = "error"
        elif word == "slow":
            seconds = float(rest) if rest.replace(".", "", 1).isdigit() else 30.0
            mid = self.nid("m")
            self.write({"t": "msg_start", "id": mid, "kind": "message"})
            for i in range(max(1, int(seconds * 10))):
                await asyncio.sleep(0.1)
                self.write({"t": "msg_delta", "id": mid, "text": f"tick{i} "})
            self.write({"t": "msg_end", "id": mid})
        elif word == "crash":
            mid = self.nid("m")
            self.write(
                {"t": "msg_start", "id": mid, "kind": "message"},
                {"t": "msg_delta", "id": mid, "text": "Abou"},
            )
            sys.stderr.write("mock agent: fatal: simulated crash\n")
            for i in range(3):
                sys.stderr.write(f"  at frame {i}\n")
            sys.stderr.flush()
            os._exit(1)
        elif word == "everything":
            self.write(*self.text("Planning: search, run, edit.", kind="reasoning"))
            cid = self.nid("c")
            self.write(
                {"t": "tool_call", "id": cid, "name": "search", "input": {"query": "everything"}},
                {"t": "tool_result", "id": cid, "output": "1 result", "is_error": False},
            )
            await self.command("echo hello")
            self.write(self.file_change("everything.txt"), *self.text("Done with everything."))
        else:
            extra = []
            if images:
                extra.append(f"{images} image{'s' * (images > 1)}")
            if files:
                extra.append(f"{files} file{'s' * (files > 1)}")
            suffix = f" (with {', '.join(extra)})" if extra else ""
            self.write(*self.text(f"You said: {text}{suffix}"))
        self.write({"t": "turn_end", "turn": turn, "stop_reason": stop})

    def file_change(self, path: str) -> dict[str, Any]:
        diff = f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+written by the mock agent\n"
        return {"t": "file_change", "id": self.nid("f"), "path": path, "action": "write", "diff": diff}

    async def command(self, command: str) -> None:
        xid = self.nid("x")
        self.write({"t": "command_start", "id": xid, "command": command})
        output = command[5:] + "\n" if command.startswith("echo ") else f"ran {command}\n"
        self.write(
            {"t": "command_output", "id": xid, "text": output},
            {"t": "command_end", "id": xid, "exit_code": 0},
        )

    async def on_turn_done(self, task: asyncio.Task[None], turn: str) -> None:
        try:
            await task
        except asyncio.CancelledError:
            self.write({"t": "turn_end", "turn": turn, "stop_reason": "interrupted"})

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        self.write({"t": "ready", "session": os.environ.get("MOCK_RESUME") or f"mock-{os.getpid()}"})
        while line := await reader.readline():
            try:
                msg = json.loads(line)
            except ValueError:
                self.write(
                    {"t": "error", "message": "mock agent got a line that is not JSON", "code": "bad_input"}
                )
                continue
            kind = msg.get("t")
            if kind == "prompt":
                task = asyncio.ensure_future(
                    self.run_turn(msg["turn"], msg.get("text", ""), msg.get("images", 0), msg.get("files", 0))
                )
                self.turn_task = task
                watcher = asyncio.ensure_future(self.on_turn_done(task, msg["turn"]))
                self.watchers.add(watcher)
                watcher.add_done_callback(self.watchers.discard)
            elif kind == "interrupt":
                if self.turn_task is not None and not self.turn_task.done():
                    self.turn_task.cancel()
            elif kind in ("permission_reply", "question_reply"):
                fut = self.pending.get(msg.get("id"))
                if fut is not None and not fut.done():
                    fut.set_result(msg)


if __name__ == "__main__":
    asyncio.run(Mock().main())
