"""Run sandbox-agent in a Daytona sandbox and connect to it.

    DAYTONA_API_KEY=... python recipes/daytona.py --agent codex --env OPENAI_API_KEY
    launched = await launch(env={...}); await launched.client.create_session("codex")

The sandbox is created from an image with the agent keys in its environment and `auto_stop_interval=0` (the
default 15-minute auto-stop ignores preview traffic), gets the artifact by upload, and runs the daemon in a
background session command; the client goes through the preview link with its preview token header.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sandbox_agent.deploy.bundle import build_bundle
from sandbox_agent.deploy.cli_args import parse_env, recipe_parser
from sandbox_agent.deploy.launch import (
    PORT,
    REMOTE_ARTIFACT,
    Launched,
    connect,
    demo,
    new_token,
    require,
    start_command,
)

SESSION = "sandbox-agent"


async def launch(
    env: dict[str, str] | None = None,
    image: str = "python:3.11-slim",
    artifact: Path | None = None,
    client: Any = None,
    port: int = PORT,
) -> Launched:
    daytona = require("daytona", "daytona")
    client = client or daytona.Daytona()
    artifact = artifact or build_bundle(Path("dist/sandbox-agent.pyz"))
    token = new_token()
    params = daytona.CreateSandboxFromImageParams(image=image, env_vars=env or {}, public=False, auto_stop_interval=0)
    sandbox = client.create(params, timeout=300)
    try:
        sandbox.fs.upload_file(artifact.read_bytes(), REMOTE_ARTIFACT)
        sandbox.process.create_session(SESSION)
        request = daytona.SessionExecuteRequest(command=start_command(token, port), run_async=True)
        sandbox.process.execute_session_command(SESSION, request)
        link = sandbox.get_preview_link(port)
        headers = {"X-Daytona-Preview-Token": link.token} if link.token else None
        return await connect(link.url, token, sandbox, sandbox.delete, headers=headers)
    except BaseException:
        sandbox.delete()
        raise


async def main() -> None:
    parser = recipe_parser(__doc__ or "")
    parser.add_argument(
        "--image", default="python:3.11-slim", help="an image with python3.11 (agents pre-installed: warm)"
    )
    args = parser.parse_args()
    artifact = Path(args.artifact) if args.artifact else None
    await demo(await launch(parse_env(args.env), args.image, artifact), args.agent, args.prompt, args.keep)


if __name__ == "__main__":
    asyncio.run(main())
