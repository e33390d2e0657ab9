"""The `sandbox-agent` command line. Heavy modules are imported inside each command to keep start-up fast."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import sys
import types
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from . import __version__

DEFAULT_PORT = 2468
DEFAULT_ENDPOINT = f"http://127.0.0.1:{DEFAULT_PORT}"


class CliError(Exception):
    """A failure to report as one line, without a traceback."""


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    except ImportError:
        return asyncio.run(coro)


def _setup_logging(level: str, fmt: str = "text") -> None:
    from .ops.logs import configure  # text or JSON lines on stderr, secrets scrubbed

    configure(level, fmt)


def _state_dir(args: argparse.Namespace) -> Path:
    from .statedir import default_state_dir

    return Path(args.state_dir).absolute() if getattr(args, "state_dir", None) else default_state_dir()


def _daemon(args: argparse.Namespace) -> Any:
    from .server.daemon import Daemon

    if getattr(args, "store", None):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:  # else the daemon dies at start with a traceback
            raise CliError("--store needs psycopg, which this build lacks: pip install 'sandbox-agent-py[postgres]'")
    daemon = Daemon(
        state_dir=_state_dir(args),
        ephemeral=args.ephemeral,
        hitl_timeout_s=getattr(args, "hitl_timeout", None),
        fs_roots=getattr(args, "fs_root", None),
        process_limits=_process_limits(args),
        store_url=getattr(args, "store", None) or None,
    )
    daemon.cors_allow_origins = getattr(args, "cors_allow_origin", None) or []  # read by server/app.build_app
    return daemon


def _process_limits(args: argparse.Namespace) -> Any:
    names = ("max_processes", "max_process_output", "max_process_seconds")
    if not any(getattr(args, name, None) for name in names):
        return None  # the defaults, without importing processes/ at start
    from .processes import ProcessLimits

    defaults = ProcessLimits()
    return ProcessLimits(
        max_processes=getattr(args, "max_processes", None) or defaults.max_processes,
        max_output_bytes=getattr(args, "max_process_output", None) or defaults.max_output_bytes,
        max_timeout_s=getattr(args, "max_process_seconds", None) or defaults.max_timeout_s,
    )


def _host_args(args: argparse.Namespace) -> list[str]:
    """The file-root and process-limit flags, passed on to a daemon started in the background."""
    out: list[str] = []
    for root in getattr(args, "fs_root", None) or []:
        out += ["--fs-root", os.path.abspath(root)]
    for flag, name in (("--max-processes", "max_processes"), ("--max-process-output", "max_process_output"),
                       ("--max-process-seconds", "max_process_seconds")):
        if getattr(args, name, None):
            out += [flag, str(getattr(args, name))]
    return out


def _spawn_args(args: argparse.Namespace) -> list[str]:
    """Flags an attaching client passes on when it has to start the shared daemon itself."""
    out = ["--log-level", args.log_level, "--log-format", getattr(args, "log_format", "text")]
    out += ["--idle-exit", str(args.idle_exit)]
    if getattr(args, "hitl_timeout", None):
        out += ["--hitl-timeout", str(args.hitl_timeout)]
    out += _host_args(args)
    _store_to_child(args)
    return out


def _store_to_child(args: argparse.Namespace) -> None:
    """A daemon started from here gets --store through its environment: a URL's password stays out of `ps`."""
    if getattr(args, "store", None):
        os.environ["SANDBOX_AGENT_STORE"] = args.store


def _starting_daemon() -> None:
    """No collections while the daemon imports and starts: it keeps ~80k objects and leaves ~800 in cycles, and
    collecting meanwhile cost ~20 ms of CPU (measured). Daemon.start turns it back on (server/daemon.tune_gc).

    The daemon loads no pydantic plugins (what PYDANTIC_DISABLE_PLUGINS=__all__ does, without passing that to every
    process it starts): pydantic's plugin loader imports importlib.metadata and reads every installed package's
    entry points at the first model build, ~13 ms and ~0.9 MB (measured)."""
    gc.disable()
    if "pydantic.plugin._loader" not in sys.modules:
        loader = types.ModuleType("pydantic.plugin._loader")
        loader.get_plugins = tuple  # type: ignore[attr-defined]  # () : no plugins
        sys.modules["pydantic.plugin._loader"] = loader


def cmd_server(args: argparse.Namespace) -> int:
    _starting_daemon()
    from .server.run import InsecureBind, check_bind, is_loopback, serve_http
    from .statedir import StateDirOwned

    token = args.token or os.environ.get("SANDBOX_AGENT_TOKEN") or None
    try:
        check_bind(args.host, token, args.no_token)
    except InsecureBind as exc:
        raise CliError(str(exc)) from None
    if not token and not args.no_token and is_loopback(args.host):
        logging.getLogger("sandbox_agent").warning("no token: anything on this machine can drive the daemon")
    try:
        run_async(serve_http(_daemon(args), args.host, args.port, token, args.log_level.lower()))
    except StateDirOwned:
        return _serve_through_owner(args, token)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:
        pass
    return 0


def _serve_through_owner(args: argparse.Namespace, token: str | None) -> int:
    """The state dir has its daemon already: have it serve HTTP here for as long as this command runs."""
    gc.enable()  # no daemon starts in this process
    from .server.background import listen_on_owner
    from .statedir import AttachFailed

    try:
        return int(run_async(listen_on_owner(_state_dir(args), args.host, args.port, token, args.no_token)))
    except (AttachFailed, OSError, TimeoutError) as exc:
        raise CliError(f"the state dir's daemon could not serve {args.host}:{args.port}: {exc}") from None
    except KeyboardInterrupt:
        return 0


def cmd_stdio(args: argparse.Namespace) -> int:
    from .server.stdio import relay_stdio, serve_stdio
    from .statedir import StateDirOwned

    try:
        if args.embedded or args.ephemeral:
            run_async(serve_stdio(_daemon(args)))
        else:
            return int(run_async(relay_stdio(_state_dir(args), _spawn_args(args))))
    except StateDirOwned as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        pass
    return 0


def _http_run_args(args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    if args.port is not None:
        out += ["--host", args.host, "--port", str(args.port)]
        if args.token:
            out += ["--token", args.token]
        if args.no_token:
            out.append("--no-token")
        for origin in args.cors_allow_origin or []:
            out += ["--cors-allow-origin", origin]
    return out


def cmd_daemon(args: argparse.Namespace) -> int:
    from .server.background import query_status, start_background, stop_background
    from .statedir import AttachFailed, is_owned

    state_dir = _state_dir(args)
    if args.action == "run":
        return _daemon_run(args, state_dir)
    if args.action == "start":
        run_args = ["--log-level", args.log_level, "--log-format", args.log_format, *_http_run_args(args)]
        if args.idle_exit:
            run_args += ["--idle-exit", str(args.idle_exit)]
        if args.hitl_timeout:
            run_args += ["--hitl-timeout", str(args.hitl_timeout)]
        if args.log_max_bytes:
            run_args += ["--log-max-bytes", str(args.log_max_bytes)]
        run_args += _host_args(args)
        _store_to_child(args)
        try:
            info = start_background(state_dir, run_args)
        except AttachFailed as exc:
            raise CliError(str(exc)) from None
        what = "already running" if info.pop("already_running") else "started"
        where = " ".join(str(info[k]) for k in ("socket", "http") if info.get(k))
        print(f"sandbox-agent daemon {what}: pid {info.get('pid')} {where}")
        return 0
    if args.action == "stop":
        print(stop_background(state_dir, args.timeout))
        return 0
    # status
    if not is_owned(state_dir):
        if args.json:
            print(json.dumps({"running": False, "state_dir": str(state_dir)}))
        else:
            print(f"no daemon is running in {state_dir}")
        return 3
    try:
        status = run_async(query_status(state_dir))
    except (AttachFailed, OSError, TimeoutError) as exc:
        raise CliError(f"the daemon in {state_dir} does not answer: {exc}") from None
    if args.json:
        print(json.dumps({"running": True, **status}))
        return 0
    counts = status["sessions"]
    rest = ", ".join(f"{v} {k}" for k, v in counts.items() if k != "total")
    print(f"sandbox-agent daemon {status['version']}: running, pid {status['pid']}, up {status['uptime_s']:.0f}s")
    print(f"  state dir  {status['state_dir']}")
    print(f"  socket     {status['socket']}")
    if status.get("http"):
        print(f"  http       {status['http']}")
    print(f"  sessions   {counts['total']}" + (f" ({rest})" if rest else ""))
    return 0


def _daemon_run(args: argparse.Namespace, state_dir: Path) -> int:
    _starting_daemon()
    from .server.background import log_to_file, run_daemon
    from .server.run import InsecureBind, check_bind

    token = args.token or os.environ.get("SANDBOX_AGENT_TOKEN") or None
    http = None
    if args.port is not None:
        try:
            check_bind(args.host, token, args.no_token)
        except InsecureBind as exc:
            raise CliError(str(exc)) from None
        http = (args.host, args.port, token)
    if not args.foreground_log:
        log_to_file(state_dir, args.log_level, args.log_max_bytes or 5 * 1024 * 1024, args.log_format)
    try:
        return int(run_async(run_daemon(_daemon(args), args.idle_exit, http)))
    except KeyboardInterrupt:
        return 0


def _parse_params(raw: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in raw:
        if item.startswith("{"):
            try:
                loaded = json.loads(item)
            except json.JSONDecodeError as exc:
                raise CliError(f"params are not valid JSON: {exc}") from None
            if not isinstance(loaded, dict):
                raise CliError("params must be a JSON object")
            params.update(loaded)
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"expected key=value or a JSON object, got {item!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _post(endpoint: str, token: str | None, method: str, params: dict[str, Any]) -> Any:
    import urllib.error
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(endpoint.rstrip("/") + "/v1/rpc", data=body, method="POST")
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=600) as resp:
            reply = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            reply = json.loads(exc.read())
        except ValueError:
            raise CliError(f"{endpoint}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CliError(f"cannot reach {endpoint}: {reason} (is `sandbox-agent server` running?)") from None
    if "error" in reply:
        err = reply["error"]
        kind = (err.get("data") or {}).get("kind") if isinstance(err.get("data"), dict) else None
        detail = f" [{kind}]" if kind else ""
        extra = err.get("data", {}).get("errors") if isinstance(err.get("data"), dict) else None
        if extra:
            detail += " " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in extra)
        raise CliError(f"{method}: {err.get('message')}{detail}")
    return reply.get("result")


def cmd_api(args: argparse.Namespace) -> int:
    result = _post(
        args.endpoint,
        args.token or os.environ.get("SANDBOX_AGENT_TOKEN"),
        args.method,
        _parse_params(args.params),
    )
    print(json.dumps(result, indent=2))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .ops.status import StatusError, fetch, render

    token = args.token or os.environ.get("SANDBOX_AGENT_TOKEN")
    try:
        status = fetch(None if args.endpoint else _state_dir(args), args.endpoint, token)
    except StatusError as exc:
        if args.json:
            print(json.dumps({"running": False, "error": str(exc)}))
        else:
            print(f"sandbox-agent: {exc}", file=sys.stderr)
        return 3  # as `daemon status` does when nothing runs
    print(json.dumps({"running": True, **status}, indent=2) if args.json else render(status))
    return 0


def cmd_agents(args: argparse.Namespace) -> int:
    if args.endpoint:
        agents = _post(args.endpoint, args.token or os.environ.get("SANDBOX_AGENT_TOKEN"), "agents/list", {})["agents"]
    else:
        from .agents.registry import default_registry

        agents = [d.info().model_dump(mode="json") for d in default_registry().drivers.values()]
    if args.json:
        print(json.dumps(agents, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("agent", "installed", "version", "coverage")
    for a in agents:
        caps = a["capabilities"]
        yes = [k for k, v in caps.items() if v == "yes"]
        table.add_row(a["id"], "yes" if a["installed"] else "no", a.get("version") or "-", f"{len(yes)}/{len(caps)}")
    Console().print(table)
    return 0


def cmd_install_agent(args: argparse.Namespace) -> int:
    from .install.catalog import CATALOG

    if args.all == bool(args.agent):
        raise CliError("name one agent or give --all")
    agents = list(CATALOG) if args.all else [args.agent]
    if args.version and len(agents) > 1:
        raise CliError("--version applies to one agent at a time")
    for agent in agents:
        if agent not in CATALOG:
            raise CliError(f"unknown agent {agent!r}; installable: {', '.join(CATALOG)}")
    return int(run_async(_install(agents, args.version, args.reinstall)))


async def _install(agents: list[str], version: str | None, reinstall: bool) -> int:
    from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .install.installer import Installer
    from .rpc.errors import RpcError

    installer = Installer()
    failed = 0
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn()]
    with Progress(*columns, transient=False) as bar:

        async def one(agent: str) -> None:
            nonlocal failed
            task = bar.add_task(f"{agent}: starting", total=None)

            def progress(phase: str, done: int | None, total: int | None) -> None:
                bar.update(task, description=f"{agent}: {phase}", completed=done or 0, total=total)

            try:
                info = await installer.install(agent, version, reinstall, progress)
                bar.update(task, description=f"{agent} {info.version}: installed ({info.install_seconds:.1f} s)")
                bar.console.print(f"{agent} {info.version} -> {' '.join(info.command)}")
            except RpcError as exc:
                failed += 1
                kind = f" [{exc.kind}]" if exc.kind else ""
                bar.update(task, description=f"{agent}: failed{kind}")
                bar.console.print(f"sandbox-agent: error: {agent}: {exc.message}{kind}", style="red")

        await asyncio.gather(*(one(a) for a in agents))
    return 1 if failed else 0


def cmd_credentials(args: argparse.Namespace) -> int:
    from .install.credentials import extract, render

    creds = extract()
    sys.stdout.write(render(creds, args.export))
    for c in creds:  # where each came from (never the value), on stderr so stdout stays sourceable
        print(f"# {c.name} from {c.source}", file=sys.stderr)
    if not creds:
        print("# no API keys found in the environment or the agents' auth files", file=sys.stderr)
    return 0


def cmd_fake_llm(args: argparse.Namespace) -> int:
    from .testing.script import load_script

    try:
        replies = load_script(args.script) if args.script else []
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the script {args.script}: {exc}") from None
    try:
        run_async(_fake_llm(replies, args.port))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None
    return 0


async def _fake_llm(replies: list[Any], port: int) -> None:
    from .testing.server import FakeLLM

    async with FakeLLM(replies, port) as fake:
        print(f"fake-llm listening on {fake.url} with {len(replies)} scripted replies", file=sys.stderr, flush=True)
        print(f"  ANTHROPIC_BASE_URL={fake.url}  OPENAI_BASE_URL={fake.url}/v1  AMP_URL={fake.url}", file=sys.stderr)
        print(
            f'  control: POST {fake.url}/_fake/enqueue {{"replies": [...]}}, GET {fake.url}/_fake/log', file=sys.stderr
        )
        await asyncio.Event().wait()


def cmd_mcp(args: argparse.Namespace) -> int:
    import importlib.util

    from .mcp.run import MISSING, serve_mcp_stdio

    if importlib.util.find_spec("mcp") is None:  # importing it costs ~1 s, done while the daemon starts
        raise CliError(MISSING)
    return _serve_facade(args, serve_mcp_stdio)


def cmd_acp(args: argparse.Namespace) -> int:
    from .acp.run import serve_acp_stdio

    return _serve_facade(args, lambda *backend: serve_acp_stdio(*backend, args.agent))


def _serve_facade(args: argparse.Namespace, serve: Callable[..., Coroutine[Any, Any, None]]) -> int:
    """Run a stdio facade (`mcp`, `acp`) over a running server, the state dir's daemon, or a private one."""
    from .mcp.backend import first_error
    from .statedir import AttachFailed, StateDirOwned

    token = args.token or os.environ.get("SANDBOX_AGENT_TOKEN")
    private = args.embedded or args.ephemeral
    daemon = _daemon(args) if private and not args.endpoint else None
    attach_to = None if (args.endpoint or private) else (_state_dir(args), _spawn_args(args))
    try:
        try:
            run_async(serve(daemon, args.endpoint, token, attach_to))
        except BaseExceptionGroup as group:
            raise first_error(group) from None
    except (StateDirOwned, AttachFailed) as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        where = f"reach {args.endpoint}" if args.endpoint else f"use the state dir {_state_dir(args)}"
        raise CliError(f"cannot {where}: {exc}") from None
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from .deploy.bundle import BundleError, build_kinds

    try:
        built = build_kinds(args.kind, Path(args.out))
    except BundleError as exc:
        raise CliError(str(exc)) from None
    for out, how in built:
        print(f"{out} ({out.stat().st_size / 1e6:.1f} MB): {how}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .statedir import is_owned

    if not args.ephemeral and is_owned(_state_dir(args)):
        # The state dir belongs to a running daemon (e.g. one an MCP client started): the demo must still run.
        print(
            f"note: {_state_dir(args)} is owned by a running daemon; this demo keeps its sessions in memory",
            file=sys.stderr,
        )
        args.ephemeral = True
    try:
        run_async(run_demo(args.host, args.port, args.prompt, _daemon(args), args.agent))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def cmd_transcripts(args: argparse.Namespace) -> int:
    from .store.cli import TranscriptsError
    from .store.cli import cmd_transcripts as run

    try:
        return run(args)
    except TranscriptsError as exc:
        raise CliError(str(exc)) from None


def _daemon_flags(p: argparse.ArgumentParser, attach: bool = False) -> None:
    p.add_argument("--state-dir", help="where the journal lives (default $XDG_STATE_HOME/sandbox-agent)")
    p.add_argument("--ephemeral", action="store_true", help="a private daemon that keeps sessions in memory only")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-format", default="text", choices=["text", "json"], help="json: one object per line")
    p.add_argument(
        "--store",
        default=os.environ.get("SANDBOX_AGENT_STORE") or None,
        metavar="URL",
        help="also write every session and event to this PostgreSQL database (or SANDBOX_AGENT_STORE)",
    )
    p.add_argument(
        "--hitl-timeout",
        type=float,
        default=None,
        metavar="S",
        help="reject permissions and questions nobody answers within S seconds (default: wait forever)",
    )
    p.add_argument(
        "--fs-root",
        action="append",
        metavar="DIR",
        help="a directory the fs/* API may touch (repeatable; default: the working dir and each session's cwd)",
    )
    p.add_argument("--max-processes", type=int, metavar="N", help="background + run processes at once (64)")
    p.add_argument("--max-process-output", type=int, metavar="BYTES", help="output kept per process (1048576)")
    p.add_argument("--max-process-seconds", type=float, metavar="S", help="the longest process timeout (3600)")
    if attach:
        p.add_argument(
            "--embedded",
            action="store_true",
            help="a private daemon inside this process instead of attaching to the state dir's shared one "
            "(refused when another daemon owns the state dir)",
        )
        p.add_argument(
            "--idle-exit",
            type=float,
            default=float(os.environ.get("SANDBOX_AGENT_IDLE_EXIT") or 300),
            metavar="S",
            help="a shared daemon started for this client exits after S idle seconds (default %(default)s)",
        )


def _cors_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cors-allow-origin",
        action="append",
        metavar="ORIGIN",
        help="let a page from ORIGIN (e.g. an Inspector hosted elsewhere) call the HTTP API; repeatable",
    )


def _endpoint_flags(p: argparse.ArgumentParser, required: bool) -> None:
    default = os.environ.get("SANDBOX_AGENT_ENDPOINT") or (DEFAULT_ENDPOINT if required else None)
    p.add_argument("--endpoint", default=default, help="a running server (default %(default)s)")
    p.add_argument("--token", help="bearer token (or SANDBOX_AGENT_TOKEN)")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The CLI; with `only`, just that command (argparse setup is ~11 ms for all of them, paid at every start)."""
    parser = argparse.ArgumentParser(prog="sandbox-agent", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sandbox-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    if only in (None, "server"):
        p = sub.add_parser("server", help="serve JSON-RPC over WebSocket/HTTP, SSE and health")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
        p.add_argument("--token", help="require this bearer token (or SANDBOX_AGENT_TOKEN)")
        p.add_argument("--no-token", action="store_true", help="run without a token, on purpose")
        _cors_flag(p)
        _daemon_flags(p)
        p.set_defaults(fn=cmd_server)

    if only in (None, "stdio"):
        p = sub.add_parser(
            "stdio",
            help="JSON-RPC as NDJSON on stdin/stdout, relayed to the state dir's shared daemon (started if needed)",
        )
        _daemon_flags(p, attach=True)
        p.set_defaults(fn=cmd_stdio)

    if only in (None, "daemon"):
        p = sub.add_parser("daemon", help="the state dir's shared background daemon: start, stop, status, run")
        p.add_argument("action", choices=["start", "stop", "status", "run"], help="run = in the foreground")
        _daemon_flags(p)
        p.add_argument("--host", default="127.0.0.1", help="with --port: also serve HTTP/WebSocket here")
        p.add_argument("--port", type=int, default=None, help="also serve HTTP/WebSocket (0 picks a free port)")
        p.add_argument("--token", help="require this bearer token on HTTP (or SANDBOX_AGENT_TOKEN)")
        p.add_argument("--no-token", action="store_true", help="serve HTTP without a token, on purpose")
        _cors_flag(p)
        p.add_argument("--idle-exit", type=float, default=None, metavar="S", help="exit after S idle seconds")
        p.add_argument("--log-max-bytes", type=int, default=None, help="rotate daemon.log at this size (5 MiB)")
        p.add_argument("--foreground-log", action="store_true", help="run: log to stderr instead of daemon.log")
        p.add_argument("--timeout", type=float, default=20.0, help="stop: seconds before SIGKILL")
        p.add_argument("--json", action="store_true", help="status: as JSON")
        p.set_defaults(fn=cmd_daemon)

    if only in (None, "status"):
        p = sub.add_parser("status", help="a running daemon on one screen: sessions, agents, pending requests, lag")
        p.add_argument(
            "--state-dir", help="the daemon that owns this state dir (default $XDG_STATE_HOME/sandbox-agent)"
        )
        _endpoint_flags(p, required=False)
        p.add_argument("--json", action="store_true", help="the full status as JSON, for machines")
        p.set_defaults(fn=cmd_status)

    if only in (None, "agents"):
        p = sub.add_parser("agents", help="list agents with install state and coverage")
        _endpoint_flags(p, required=False)
        p.add_argument("--json", action="store_true")
        p.set_defaults(fn=cmd_agents)

    if only in (None, "api"):
        p = sub.add_parser("api", help="call any API method on a running server")
        p.add_argument("method", help="e.g. sessions/list")
        p.add_argument("params", nargs="*", help="a JSON object and/or key=value pairs (values parsed as JSON)")
        _endpoint_flags(p, required=True)
        p.set_defaults(fn=cmd_api)

    if only in (None, "install-agent"):
        p = sub.add_parser("install-agent", help="install an agent from npm (pinned versions)")
        p.add_argument("agent", nargs="?")
        p.add_argument("--all", action="store_true", help="install every agent")
        p.add_argument("--version", help="a version other than the pinned, tested one")
        p.add_argument("--reinstall", action="store_true")
        p.set_defaults(fn=cmd_install_agent)

    if only in (None, "credentials"):
        p = sub.add_parser("credentials", help="find API keys you already have")
        creds = p.add_subparsers(dest="what", required=True)
        p = creds.add_parser("extract-env", help="print them as env lines (env vars, then agents' auth files)")
        p.add_argument("--export", action="store_true", help="prefix each line with `export `")
        p.set_defaults(fn=cmd_credentials)

    if only in (None, "fake-llm"):
        p = sub.add_parser("fake-llm", help="a scripted fake Anthropic/OpenAI provider on 127.0.0.1")
        p.add_argument("--script", help="a JSON (or YAML) list of replies")
        p.add_argument("--port", type=int, default=0)
        p.set_defaults(fn=cmd_fake_llm)

    if only in (None, "mcp"):
        p = sub.add_parser("mcp", help="serve the MCP facade on stdio (the state dir's daemon, or --endpoint a server)")
        _endpoint_flags(p, required=False)
        _daemon_flags(p, attach=True)
        p.set_defaults(fn=cmd_mcp)

    if only in (None, "acp"):
        p = sub.add_parser("acp", help="serve ACP on stdio: any ACP client drives any agent (the state dir's daemon)")
        p.add_argument("--agent", default="mock", help="the agent for session/new without _meta (default %(default)s)")
        _endpoint_flags(p, required=False)
        _daemon_flags(p, attach=True)
        p.set_defaults(fn=cmd_acp)

    if only in (None, "bundle"):
        p = sub.add_parser("bundle", help="build the portable artifacts (a zipapp for python3 3.11-3.13, a standalone)")
        p.add_argument("--kind", choices=["auto", "zipapp", "standalone"], default="auto", help="auto: both")
        p.add_argument("--out", default="dist", help="the folder to write them to")
        p.set_defaults(fn=cmd_bundle)

    if only in (None, "transcripts"):
        from .store.cli import add_parser as add_transcripts_parser

        add_transcripts_parser(sub, cmd_transcripts)

    if only in (None, "demo"):
        p = sub.add_parser("demo", help="run the server with a demo session on the mock agent")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=DEFAULT_PORT)
        p.add_argument("--prompt", default="everything")
        p.add_argument("--agent", default="auto", help="auto: claude/codex/amp when its API key is set, else mock")
        _daemon_flags(p)
        p.set_defaults(fn=cmd_demo)

    return parser

COMMANDS = (  # every command build_parser() has (tests/test_cli.py checks)
    "server", "stdio", "daemon", "status", "agents", "api", "install-agent", "credentials", "fake-llm", "mcp",
    "acp", "bundle", "transcripts", "demo",
)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    only = argv[0] if argv and argv[0] in COMMANDS else None  # else (help, a typo) every command, for the listing
    args = build_parser(only).parse_args(argv)
    _setup_logging(getattr(args, "log_level", "warning"), getattr(args, "log_format", "text"))
    try:
        return int(args.fn(args))
    except CliError as exc:
        print(f"sandbox-agent: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
