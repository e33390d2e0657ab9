"""Command-line plumbing shared by the recipes: `--env NAME` (take it from here) or `--env NAME=VALUE`."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from .bundle import BundleError
from .fit import NoArtifactFits
from .launch import Artifacts


def parse_env(items: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            if name not in os.environ:
                raise SystemExit(f"--env {name}: not set in this environment (use NAME=VALUE)")
            value = os.environ[name]
        env[name] = value
    return env


def recipe_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--agent", default="mock", help="the agent for the demo session (claude, codex, opencode, amp, mock)"
    )
    parser.add_argument("--env", action="append", default=[], help="NAME or NAME=VALUE, passed into the sandbox")
    parser.add_argument(
        "--kind",
        default="auto",
        choices=["auto", "zipapp", "standalone"],
        help="which artifact to upload (auto: the one that fits the sandbox, found by probing it)",
    )
    parser.add_argument("--zipapp", help="a built zipapp (default: built once and cached when needed)")
    parser.add_argument("--standalone", help="a built standalone executable (default: built when needed)")
    parser.add_argument("--prompt", default="hello from the recipe", help="the demo session's first message")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running and print how to reach it")
    parser.add_argument(
        "--store",
        default=os.environ.get("SANDBOX_AGENT_STORE") or None,
        metavar="URL",
        help="the daemon also writes every session and event to this PostgreSQL database (reachable from inside)",
    )
    return parser


def artifacts_from(args: argparse.Namespace) -> Artifacts:
    return Artifacts(
        zipapp=Path(args.zipapp) if args.zipapp else None,
        standalone=Path(args.standalone) if args.standalone else None,
    )


def run_recipe(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """A recipe's `__main__`: a clear one-line message, not a traceback, when no artifact fits or none builds."""
    try:
        asyncio.run(main())
    except (NoArtifactFits, BundleError) as exc:
        raise SystemExit(f"sandbox-agent: {exc}") from None
