"""Command-line plumbing shared by the recipes: `--env NAME` (take it from here) or `--env NAME=VALUE`."""

from __future__ import annotations

import argparse
import os


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
    parser.add_argument("--artifact", help="a built bundle (default: build one with `sandbox-agent bundle`)")
    parser.add_argument("--prompt", default="hello from the recipe", help="the demo session's first message")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running and print how to reach it")
    return parser
