"""The standalone executable's entry point: the CLI, and a stand-in for `python` for the daemon's own children.

Inside a PyInstaller executable `sys.executable` is the executable itself, and the daemon starts some children
as `sys.executable [-I] script.py ...` (the mock agent, Amp's approval delegate) or `sys.executable -m module ...`.
Those argv shapes are run here as Python would run them; everything else is the `sandbox-agent` CLI.
"""

from __future__ import annotations

import runpy
import sys

PYTHON_FLAGS = {"-I", "-u", "-E", "-s", "-S", "-B", "-O"}


def python_style(argv: list[str]) -> tuple[str, str, list[str]] | None:
    """("path", script, argv) or ("module", name, argv) when `argv` asks for Python, else None."""
    args = argv[1:]
    while args and args[0] in PYTHON_FLAGS:
        args = args[1:]
    if len(args) >= 2 and args[0] == "-m":
        return "module", args[1], [args[1], *args[2:]]
    if args and args[0].endswith(".py"):
        return "path", args[0], args
    return None


def main() -> None:
    how = python_style(sys.argv)
    if how is None:
        from sandbox_agent.cli import main as cli

        sys.exit(cli())
    kind, target, sys.argv = how
    if kind == "module":
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(target, run_name="__main__")


if __name__ == "__main__":
    main()
