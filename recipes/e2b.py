"""Run sandbox-agent in an E2B sandbox and connect to it.

    E2B_API_KEY=... python recipes/e2b.py --agent claude --env ANTHROPIC_API_KEY
    launched = await launch(env={...}); await launched.client.create_session("claude")

The sandbox gets the agent keys in its environment, the single-file artifact by upload, and the daemon as a
background command with `timeout=0` (E2B's default 60 s would kill it); the client reaches it over
https://<port>-<sandbox id>.<domain> with a fresh token.
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


async def launch(
    env: dict[str, str] | None = None,
    template: str | None = None,
    artifact: Path | None = None,
    lifetime: int = 3600,
    sandbox_class: Any = None,
    port: int = PORT,
    scheme: str = "https",
) -> Launched:
    Sandbox = sandbox_class or require("e2b", "e2b").Sandbox
    artifact = artifact or build_bundle(Path("dist/sandbox-agent.pyz"))
    token = new_token()
    sandbox = Sandbox.create(template=template, timeout=lifetime, envs=env or {})
    try:
        sandbox.files.write(REMOTE_ARTIFACT, artifact.read_bytes())
        sandbox.commands.run(start_command(token, port), background=True, timeout=0)
        return await connect(f"{scheme}://{sandbox.get_host(port)}", token, sandbox, sandbox.kill)
    except BaseException:
        sandbox.kill()
        raise


async def main() -> None:
    parser = recipe_parser(__doc__ or "")
    parser.add_argument("--template", help="an E2B template (one with the agents pre-installed starts warm)")
    args = parser.parse_args()
    artifact = Path(args.artifact) if args.artifact else None
    await demo(await launch(parse_env(args.env), args.template, artifact), args.agent, args.prompt, args.keep)


if __name__ == "__main__":
    asyncio.run(main())
