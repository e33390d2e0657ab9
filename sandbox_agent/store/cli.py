"""`sandbox-agent transcripts list|show|export --store URL`: read the store without a daemon."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


class TranscriptsError(Exception):
    """Reported as one line by the caller."""


def add_parser(sub: Any, fn: Any) -> None:
    """The `transcripts` command; `fn(args)` runs it (the main CLI wraps cmd_transcripts for its error style)."""
    p = sub.add_parser("transcripts", help="list, show or export sessions from a PostgreSQL store (no daemon needed)")
    actions = p.add_subparsers(dest="action", required=True)

    def store_flag(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--store",
            default=os.environ.get("SANDBOX_AGENT_STORE") or None,
            metavar="URL",
            help="postgresql://... (or SANDBOX_AGENT_STORE)",
        )

    q = actions.add_parser("list", help="sessions in the store, oldest first")
    store_flag(q)
    q.add_argument("--agent", help="only this agent's sessions")
    q.add_argument("--daemon", help="only sessions last written by this daemon_id")
    q.add_argument("--limit", type=int, default=None)
    q.add_argument("--json", action="store_true", help="one JSON object per line")
    q.set_defaults(fn=fn)

    q = actions.add_parser("show", help="a session as Markdown on stdout")
    store_flag(q)
    q.add_argument("session_id")
    q.set_defaults(fn=fn)

    q = actions.add_parser("export", help="a session (or every session) as JSONL or Markdown")
    store_flag(q)
    q.add_argument("session_id", nargs="?", help="omit with --all")
    q.add_argument("--all", action="store_true", help="every session, one file each, into --out DIR")
    q.add_argument("--format", choices=["jsonl", "markdown"], default="jsonl")
    q.add_argument("--out", help="a file (a directory with --all); default stdout")
    q.set_defaults(fn=fn)


def cmd_transcripts(args: argparse.Namespace) -> int:
    from . import Store, StoreError

    if not args.store:
        raise TranscriptsError("give --store postgresql://... (or set SANDBOX_AGENT_STORE)")
    try:
        with Store(args.store) as store:
            if args.action == "list":
                return _list(store, args)
            if args.action == "show":
                from .render import to_markdown

                sys.stdout.write(to_markdown(store.transcript(args.session_id)))
                return 0
            return _export(store, args)
    except StoreError as exc:
        raise TranscriptsError(str(exc)) from None


def _list(store: Any, args: argparse.Namespace) -> int:
    sessions = store.sessions(agent=args.agent, daemon_id=args.daemon, limit=args.limit)
    if args.json:
        for s in sessions:
            print(json.dumps(s.model_dump(exclude={"record"}) | {"cwd": s.record.get("cwd")}))
        return 0
    if not sessions:
        print("no sessions in the store")
        return 0
    print(f"{'SESSION':<32} {'AGENT':<9} {'EVENTS':>7}  {'STATUS':<8} {'CREATED':<25} DAEMON")
    for s in sessions:
        status = "ended" if s.ended else "open"
        print(f"{s.session_id:<32} {s.agent:<9} {s.last_sequence:>7}  {status:<8} {s.created_at:<25} {s.daemon_id}")
    return 0


def _export(store: Any, args: argparse.Namespace) -> int:
    from .render import to_jsonl, to_markdown

    if args.all == bool(args.session_id):
        raise TranscriptsError("give a session id or --all (not both)")
    suffix = ".jsonl" if args.format == "jsonl" else ".md"

    def write(transcript: Any, out: Any) -> None:
        if args.format == "jsonl":
            for line in to_jsonl(transcript):
                out.write(line)
        else:
            out.write(to_markdown(transcript).encode())

    if args.all:
        if not args.out:
            raise TranscriptsError("--all needs --out DIR")
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        sessions = store.sessions()
        for s in sessions:
            with open(folder / f"{s.session_id}{suffix}", "wb") as f:
                write(store.transcript(s.session_id), f)
        print(f"exported {len(sessions)} sessions to {folder}", file=sys.stderr)
        return 0
    transcript = store.transcript(args.session_id)
    if args.out:
        with open(args.out, "wb") as f:
            write(transcript, f)
    else:
        write(transcript, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    return 0
