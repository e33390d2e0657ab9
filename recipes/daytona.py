"""Run sandbox-agent in a Daytona sandbox and connect to it.

    DAYTONA_API_KEY=... python recipes/daytona.py --agent codex --env OPENAI_API_KEY
    launched = await launch(env={...}); await launched.client.create_session("codex")

The sandbox is created from an image with the agent keys in its environment and `auto_stop_interval=0` (the
default 15-minute auto-stop ignores preview traffic), is probed (`python3 --version`, `ldd --version`), gets the
artifact that fits by upload (or the recipe says why none fits), and runs the daemon in a
background session command; the client goes through the preview link with its preview token header.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sandbox_agent.deploy.cli_args import artifacts_from, parse_env, recipe_parser, run_recipe
from sandbox_agent.deploy.fit import PROBE_COMMAND, Prefer
from sandbox_agent.deploy.launch import (
    PORT,
    Artifacts,
    Launched,
    connect,
    demo,
    new_token,
    pick,
    require,
    start_command,
)

SESSION = "sandbox-agent"


async def launch(
    env: dict[str, str] | None = None,
    image: str = "debian:12",
    artifacts: Artifacts | None = None,
    client: Any = None,
    port: int = PORT,
    kind: Prefer = "auto",
    store: str | None = None,
) -> Launched:
    daytona = require("daytona", "daytona")
    client = client or daytona.Daytona()
    token = new_token()
    params = daytona.CreateSandboxFromImageParams(image=image, env_vars=env or {}, public=False, auto_stop_interval=0)
    sandbox = client.create(params, timeout=300)
    try:
        upload = pick(sandbox.process.exec(PROBE_COMMAND).result, artifacts, kind)
        sandbox.fs.upload_file(upload.local.read_bytes(), upload.remote)
        sandbox.process.create_session(SESSION)
        command = start_command(token, upload.fit.kind, port, store=store)
        sandbox.process.execute_session_command(SESSION, daytona.SessionExecuteRequest(command=command, run_async=True))
        link = sandbox.get_preview_link(port)
        headers = {"X-Daytona-Preview-Token": link.token} if link.token else None
        return await connect(link.url, token, sandbox, sandbox.delete, headers=headers, upload=upload)
    except BaseException:
        sandbox.delete()
        raise


async def main() -> None:
    parser = recipe_parser(__doc__ or "")
    parser.add_argument("--image", default="debian:12", help="any x86_64 glibc image (agents pre-installed: warm)")
    args = parser.parse_args()
    launched = await launch(parse_env(args.env), args.image, artifacts_from(args), kind=args.kind, store=args.store)
    await demo(launched, args.agent, args.prompt, args.keep)


if __name__ == "__main__":
    run_recipe(main)
